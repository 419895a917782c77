#include "common/yaml_reader.h"

#include <gtest/gtest.h>

namespace relayq::yaml {
namespace {

TEST(YamlReaderTest, ReadsKindsAndPlaces) {
  ParseResult r = Parse("a: 1\nb:\n  - x\n  - 'y'\nc:\n");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r.root.IsMap());
  EXPECT_EQ(r.root.size(), 3u);
  EXPECT_TRUE(r.root["a"].IsScalar());
  EXPECT_EQ(r.root["a"].AsInt(), 1);
  EXPECT_TRUE(r.root["b"].IsSequence());
  EXPECT_EQ(r.root["b"][1].Scalar(), "y");
  EXPECT_EQ(r.root["b"][1].Tag(), "!");
  EXPECT_EQ(r.root["b"][0].Mark().line, 2);
  EXPECT_EQ(r.root["b"][0].Mark().column, 4);
  EXPECT_TRUE(r.root["c"].IsNull());
  EXPECT_FALSE(r.root["missing"].IsDefined());
  EXPECT_TRUE(r.root["missing"].Mark().is_null());
  EXPECT_FALSE(r.root["b"][7].IsDefined());
}

TEST(YamlReaderTest, WrongKindReadsAsEmptyWithoutThrowing) {
  ParseResult r = Parse("just text");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.root["key"].IsDefined());
  EXPECT_FALSE(r.root[0].IsDefined());
  EXPECT_TRUE(r.root.Entries().empty());
  EXPECT_TRUE(r.root.Items().empty());
  EXPECT_EQ(Node().Scalar(), "");
  EXPECT_EQ(Node().size(), 0u);
}

TEST(YamlReaderTest, EntriesKeepDocumentOrderAndDuplicates) {
  ParseResult r = Parse("z: 1\na: 2\nz: 3\n");
  ASSERT_TRUE(r.ok());
  auto entries = r.root.Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].first.Scalar(), "z");
  EXPECT_EQ(entries[1].first.Scalar(), "a");
  EXPECT_EQ(entries[2].second.Scalar(), "3");
  EXPECT_EQ(r.root["z"].Scalar(), "1");
}

TEST(YamlReaderTest, TypedReadsFollowYamlCpp) {
  ParseResult r = Parse("t: yes\nf: off\nn: 0x10\nbig: 99999999999\nword: maybe\nlist: [1]\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.root["t"].AsBool(), true);
  EXPECT_EQ(r.root["f"].AsBool(), false);
  EXPECT_EQ(r.root["word"].AsBool(), std::nullopt);
  EXPECT_EQ(r.root["n"].AsInt(), 16);
  EXPECT_EQ(r.root["big"].AsInt(), std::nullopt);
  EXPECT_EQ(r.root["big"].AsInt64(), 99999999999);
  EXPECT_EQ(r.root["list"].AsInt(), std::nullopt);
}

TEST(YamlReaderTest, DescribesNodesForMessages) {
  ParseResult r = Parse("m: {a: 1}\nl: [1]\ns: text\nn:\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.root["m"].Describe(), "a map");
  EXPECT_EQ(r.root["l"].Describe(), "a list");
  EXPECT_EQ(r.root["s"].Describe(), "'text'");
  EXPECT_EQ(r.root["n"].Describe(), "nothing");
  EXPECT_EQ(r.root["absent"].Describe(), "nothing");
}

TEST(YamlReaderTest, SyntaxErrorHasAPlace) {
  ParseResult r = Parse("a: [1, 2\nb: 3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error->syntax);
  EXPECT_FALSE(r.error->mark.is_null());
  EXPECT_FALSE(r.error->message.empty());
  EXPECT_NE(r.error->what.find(r.error->message), std::string::npos);
  EXPECT_FALSE(r.root.IsDefined());
}

TEST(YamlReaderTest, EmptyTextIsANullDocument) {
  ParseResult r = Parse("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.root.IsNull());
}

TEST(YamlReaderTest, PlaceIsOneBased) {
  EXPECT_EQ(Place("relayq.yaml", Mark{2, 4}), "relayq.yaml:3:5");
  EXPECT_EQ(Place("relayq.yaml", Mark{}), "relayq.yaml");
}

TEST(YamlReaderTest, DidYouMeanNamesTheClosestKnownKey) {
  EXPECT_EQ(DidYouMean("listne", {"listen", "admin_listen"}), "did you mean 'listen'?");
  EXPECT_EQ(DidYouMean("zzzzzz", {"listen"}), "");
}

}  // namespace
}  // namespace relayq::yaml
