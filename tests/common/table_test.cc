#include "common/table.h"

#include <gtest/gtest.h>

namespace relayq {
namespace {

TEST(RenderTableTest, AlignsColumnsTwoSpacesApart) {
  EXPECT_EQ(RenderTable({"ID", "NAME"}, {{"1", "mini"}, {"100", "pi"}}),
            "ID   NAME\n1    mini\n100  pi\n");
}

TEST(RenderTableTest, CountsUtf8CodePointsNotBytes) {
  EXPECT_EQ(RenderTable({"CITY", "N"}, {{"Z\xC3\xBCrich", "1"}, {"Bern", "2"}}),
            "CITY    N\nZ\xC3\xBCrich  1\nBern    2\n");
}

TEST(RenderTableTest, TrimsLineEndsUnlessAskedNotTo) {
  EXPECT_EQ(RenderTable({"A", "BB"}, {{"xxx", ""}}), "A    BB\nxxx\n");
  EXPECT_EQ(RenderTable({"A", "BB"}, {{"xxx", ""}}, /*trim_line_ends=*/false), "A    BB\nxxx  \n");
}

TEST(RenderTableTest, ShortRowsReadAsEmptyCellsAndExtraCellsAreDropped) {
  EXPECT_EQ(RenderTable({"A", "B"}, {{"1"}, {"2", "3", "4"}}), "A  B\n1\n2  3\n");
}

}  // namespace
}  // namespace relayq
