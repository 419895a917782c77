// store_micro: the durable store's insert path on its own, as Google
// Benchmark micro-benchmarks: Store::Ingest of a decoded ~7 KB workflow_job
// delivery (compression, the group commit, the lifecycle
// merge) from 1 and 16 threads, with synchronous=FULL and NORMAL, on a fresh
// store in a temporary directory. items_per_second is deliveries stored per
// second; the time per iteration is one caller's wait for its commit.
//
//   cmake --build build-release --target store_micro && build-release/bench/store_micro
//
// The webhook's HTTP, signature and decode steps are not in these figures
// (bench/ingest_micro has those; bench/run.sh measures them all together).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "handlers/decode.h"
#include "store/store.h"
#include "tests/fakes/github_payloads.h"

namespace {

using relayq::store::Store;
using relayq::store::StoreOptions;

// Shared by the threads of one benchmark run: thread 0 opens it before the
// timed loop and closes it after (Google Benchmark puts a barrier at both).
std::unique_ptr<Store> g_store;
std::string g_dir;
std::atomic<uint64_t> g_next_id{0};
relayq::store::Delivery g_template;

relayq::store::Delivery MakeTemplate() {
  relayq::testing::JobSpec spec;
  std::string body = relayq::testing::WorkflowJobPayload(spec);
  auto decoded = relayq::handlers::DecodePayload("workflow_job", body);
  if (!decoded.ok()) std::abort();
  relayq::store::Delivery d;
  d.event = "workflow_job";
  d.action = decoded->action;
  d.repository = decoded->repository;
  d.content_type = "application/json";
  d.body = std::move(body);
  d.job = decoded->job;
  return d;
}

void BM_Ingest(benchmark::State& state) {
  if (state.thread_index() == 0) {
    if (g_template.body.empty()) g_template = MakeTemplate();
    char tmpl[] = "/tmp/relayq-store-micro.XXXXXX";
    g_dir = mkdtemp(tmpl);
    StoreOptions options;
    options.path = g_dir + "/relayq.db";
    options.synchronous =
        state.range(0) == 1 ? StoreOptions::Sync::kFull : StoreOptions::Sync::kNormal;
    auto store = Store::Open(options, relayq::Clock::Real());
    if (!store.ok()) {
      state.SkipWithError(store.status().message().c_str());
      return;
    }
    g_store = std::move(*store);
  }
  for (auto _ : state) {
    relayq::store::Delivery d = g_template;
    d.id = "micro-" + std::to_string(g_next_id.fetch_add(1));
    d.received_at = 1'780'000'000'000;
    auto r = g_store->Ingest(std::move(d));
    if (!r.ok()) state.SkipWithError(r.status().message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    g_store->Close();
    g_store.reset();
    std::filesystem::remove_all(g_dir);
  }
}

// Arg: 1 = synchronous FULL, 0 = NORMAL.
BENCHMARK(BM_Ingest)->ArgName("full")->Arg(1)->Arg(0)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
