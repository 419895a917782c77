#include "handlers/action_progress.h"

#include <gtest/gtest.h>

namespace relayq::handlers {
namespace {

// What the executor saved at each stage, as the store holds it: each must
// read back and be written again byte for byte.
TEST(ActionProgressTest, StoredResultsRoundTripByteForByte) {
  const char* kStored[] = {
      R"({"outcome":"started on macmini-1"})",
      R"({"cancelled_run_id":100,"fallback_count":1,"inputs":{"url":"https://e/a.mp3"},)"
      R"("inputs_known":true,"ref":"main","route":"transcribe","stage":"cancelling",)"
      R"("target_labels":["rpi4"],"target_workflow":"transcribe_rpi.yml"})",
      R"({"note":"the job had started on m when the cancel took effect; GitHub cancelled it, )"
      R"(so it is replaced","parent_request_id":7,"stage":"cancelled","started_before_cancel":"m"})",
      R"({"request_id":3,"sends":2,"stage":"dispatching"})",
      R"({"dispatched":true,"html_url":"https://github.com/o/r/actions/runs/5","outcome":)"
      R"("dispatched x.yml as run 5","relayq_id_input":false,"request_id":3,"run_id":5,)"
      R"("sends":1,"stage":"done"})",
  };
  for (const char* stored : kStored) {
    EXPECT_EQ(ActionProgress::Parse(std::string(stored)).Dump(), stored);
  }
}

TEST(ActionProgressTest, ReadsTypedFields) {
  ActionProgress p = ActionProgress::Parse(
      std::string(R"({"request_id":3,"sends":2,"stage":"dispatching","dispatched":false})"));
  EXPECT_EQ(p.stage, ProgressStage::kDispatching);
  EXPECT_EQ(p.request_id, 3);
  EXPECT_EQ(p.sends, 2);
  EXPECT_EQ(p.dispatched, false);
  EXPECT_FALSE(p.run_id.has_value());
}

TEST(ActionProgressTest, KeepsKeysAndStagesItDoesNotKnow) {
  const std::string stored = R"({"from_a_newer_relayq":[1,2],"stage":"verifying"})";
  ActionProgress p = ActionProgress::Parse(stored);
  EXPECT_EQ(p.stage, ProgressStage::kUnknown);
  EXPECT_EQ(p.unknown_stage, "verifying");
  EXPECT_EQ(p.Dump(), stored);
}

TEST(ActionProgressTest, MissingOrMalformedResultIsANewProgress) {
  for (const std::optional<std::string>& stored :
       {std::optional<std::string>(), std::optional<std::string>("not json"),
        std::optional<std::string>("[1]")}) {
    ActionProgress p = ActionProgress::Parse(stored);
    EXPECT_EQ(p.stage, ProgressStage::kNew);
    EXPECT_EQ(p.Dump(), "{}");
  }
}

TEST(ActionProgressTest, KnownKeyOfTheWrongTypeThrows) {
  EXPECT_THROW(ActionProgress::Parse(std::string(R"({"request_id":"three"})")),
               nlohmann::json::exception);
}

}  // namespace
}  // namespace relayq::handlers
