#include "store/recovery_reads.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/store/store_fixture.h"

namespace relayq::store {
namespace {

class SeenRepositoriesTest : public StoreFixture {
 protected:
  void Record(const std::string& id, const std::string& event, const std::string& repository,
              int64_t received_at, Outcome outcome = Outcome::kAccepted) {
    Delivery d;
    d.id = id;
    d.event = event;
    d.repository = repository;
    d.received_at = received_at;
    d.outcome = outcome;
    d.body = "{}";
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }
};

// What periodic recovery covers when github.repositories is not set.
TEST_F(SeenRepositoriesTest, AcceptedWorkflowDeliveriesInTheWindowOneSpellingEach) {
  Record("a", "workflow_job", "octo/kit", 2000);
  Record("b", "workflow_run", "Octo/Kit", 3000);
  Record("c", "workflow_job", "octo/other", 4000);
  Record("d", "workflow_job", "old/repo", 500);                           // before the window
  Record("e", "ping", "ping/only", 5000);                                 // not a workflow event
  Record("f", "workflow_job", "stranger/repo", 5000, Outcome::kRefused);  // not allowed
  StoreOptions o;
  o.path = dir_.File("relayq.db");
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto seen = SeenRepositories(**db, 1000);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_TRUE((*seen)[0] == "octo/kit" || (*seen)[0] == "Octo/Kit") << (*seen)[0];
  EXPECT_EQ((*seen)[1], "octo/other");
}

TEST_F(SeenRepositoriesTest, MissingStoreIsNotFound) {
  // The recovery reads take an open Database, which refuses a missing file.
  StoreOptions o;
  o.path = dir_.File("typo.db");
  EXPECT_EQ(Database::Open(o).status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace relayq::store
