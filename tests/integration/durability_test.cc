// Whole-process durability tests: many concurrent clients, and a crash
// (SIGKILL) right after acknowledgements.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/fakes/github_payloads.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

class DurabilityTest : public IntegrationTest {};

// 16 concurrent keep-alive clients x 500 deliveries: every one answered 202
// and stored exactly once.
TEST_F(DurabilityTest, SixteenClientsFiveHundredEachStoredExactlyOnce) {
  StartRelayq();
  constexpr int kClients = 16, kEach = 500;
  std::atomic<int> accepted{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = Client();
      JobSpec spec;
      for (int i = 0; i < kEach; ++i) {
        spec.job_id = c * 100000 + i;
        std::string body = WorkflowJobPayload(spec);
        int status = Deliver(*client, "workflow_job",
                             "c" + std::to_string(c) + "-" + std::to_string(i), body);
        (status == 202 ? accepted : other)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(accepted, kClients * kEach);
  EXPECT_EQ(other, 0);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), kClients * kEach);
  EXPECT_EQ(db.Count("SELECT count(DISTINCT id) FROM deliveries"), kClients * kEach);
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), kClients * kEach);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events"), kClients * kEach);
}

// Clients deliver continuously; relayq is killed with SIGKILL mid-stream.
// Every delivery that was acknowledged must be in the store after a restart,
// and redelivering everything afterwards stores nothing twice.
TEST_F(DurabilityTest, EveryAcknowledgedDeliverySurvivesKill9) {
  for (int round = 0; round < 3; ++round) {
    StartRelayq();
    constexpr int kClients = 8;
    std::mutex mu;
    std::set<std::string> acked;
    std::vector<std::string> sent;
    std::atomic<bool> stop{false};
    std::atomic<int> total_acks{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        auto client = Client();
        client->set_read_timeout(5, 0);
        JobSpec spec;
        for (int i = 0; !stop; ++i) {
          std::string id =
              "r" + std::to_string(round) + "-c" + std::to_string(c) + "-" + std::to_string(i);
          spec.job_id = round * 10000000 + c * 100000 + i;
          {
            std::lock_guard lock(mu);
            sent.push_back(id);
          }
          if (Deliver(*client, "workflow_job", id, WorkflowJobPayload(spec)) == 202) {
            std::lock_guard lock(mu);
            acked.insert(id);
            ++total_acks;
          } else {
            return;  // the server is gone
          }
        }
      });
    }
    // Kill once enough acknowledgements have been seen (an event, polled).
    while (total_acks < 300) std::this_thread::yield();
    process_->Kill();
    stop = true;
    for (auto& t : clients) t.join();

    SqliteReader db(DbPath());
    std::set<std::string> stored;
    for (const auto& row : db.Rows("SELECT id FROM deliveries")) stored.insert(row[0]);
    for (const auto& id : acked) {
      EXPECT_TRUE(stored.count(id)) << "acknowledged but lost: " << id;
    }

    // After a restart, a redelivery of everything sent is never stored twice.
    StartRelayq();
    auto client = Client();
    int64_t before = db.Count("SELECT count(*) FROM deliveries");
    int redelivered_new = 0;
    JobSpec spec;
    for (const auto& id : sent) {
      int status = Deliver(*client, "workflow_job", id, WorkflowJobPayload(spec));
      ASSERT_TRUE(status == 200 || status == 202) << status;
      if (status == 202) ++redelivered_new;
      if (stored.count(id)) {
        EXPECT_EQ(status, 200) << id;
      }
    }
    EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), before + redelivered_new);
    EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"),
              db.Count("SELECT count(DISTINCT id) FROM deliveries"));
    client.reset();
    EXPECT_EQ(process_->Terminate(), 0);
  }
}

// Regression (issue 12, case 14): a second daemon on the same store started
// and served beside the first, each taking the other's routing actions.
TEST_F(DurabilityTest, SecondDaemonOnOneStoreExitsNamingTheFirstsPid) {
  StartRelayq();
  CommandResult second = RunRelayqWithin(
      dir_.path(), {"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, Env(),
      std::chrono::seconds(20));
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("pid " + std::to_string(process_->pid())), std::string::npos)
      << second.err;
  EXPECT_EQ(second.out.find("listening"), std::string::npos) << second.out;
  // The first one still serves.
  EXPECT_EQ(Deliver(*Client(), "workflow_job", "after-second", WorkflowJobPayload({})), 202);
  EXPECT_EQ(process_->Terminate(), 0);
  // Once it is gone, the store is free again, even after a SIGKILL.
  StartRelayq();
  process_->Kill();
  StartRelayq();
  EXPECT_EQ(process_->Terminate(), 0);
}

}  // namespace
}  // namespace relayq::testing
