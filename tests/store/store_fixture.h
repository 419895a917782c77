// StoreFixture: a store opened before each test in a fresh directory, on a
// fake clock; the base of the store tests that write through store::Store.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::store {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.path = Path();
    auto s = Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  std::string Path() const { return dir_.File("relayq.db"); }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Store> store_;
};

}  // namespace relayq::store
