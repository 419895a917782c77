// ingest_micro: the CPU cost of each step a webhook delivery takes through
// intake, one Google Benchmark per step, on the tests' realistic payloads
// (tests/fakes/github_payloads.h):
//
//   build-release/bench/ingest_micro [--benchmark_repetitions=5 ...]
//
// - VerifySignature: HMAC-SHA256 of a 7 KB workflow_job body, one secret;
// - DecodePayload of a 7 KB workflow_job and a ~20 KB workflow_run body, and
//   the same with the former decoder (nlohmann's SAX parser keeping the same
//   paths, tests/fakes/decode_reference.h) for comparison;
// - ExtractJson of the workflow_run body form-encoded (`payload=...`);
// - EncodeBody (zstd) of the 7 KB body, as the store keeps it.
// Bytes/s are of the body. Figures only; nothing here is a test.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "handlers/decode.h"
#include "handlers/signature.h"
#include "store/body_codec.h"
#include "tests/fakes/decode_reference.h"
#include "tests/fakes/github_payloads.h"

namespace {

using relayq::testing::JobSpec;
using relayq::testing::RunSpec;

// An in_progress job with one step: the size GitHub sends most (~7 KB).
const std::string& JobBody() {
  static const std::string body = [] {
    JobSpec spec;
    spec.action = "in_progress";
    spec.runner_name = "macmini-1";
    spec.steps = 1;
    return relayq::testing::WorkflowJobPayload(spec);
  }();
  return body;
}

const std::string& RunBody() {
  static const std::string body = [] {
    RunSpec spec;
    spec.action = "completed";
    spec.conclusion = "success";
    return relayq::testing::WorkflowRunPayload(spec);
  }();
  return body;
}

void SetBytes(benchmark::State& state, const std::string& body) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}

void BM_VerifySignature(benchmark::State& state) {
  const std::string& body = JobBody();
  const std::vector<std::string> secrets = {"bench-secret"};
  const std::string header = relayq::handlers::SignBody(body, secrets[0]);
  for (auto _ : state) {
    relayq::Status s = relayq::handlers::VerifySignature(body, header, secrets);
    if (!s.ok()) state.SkipWithError("signature does not verify");
    benchmark::DoNotOptimize(s);
  }
  SetBytes(state, body);
}
BENCHMARK(BM_VerifySignature);

using DecodeFn = relayq::Result<relayq::handlers::Decoded> (*)(std::string_view, std::string_view);

void DecodeBench(benchmark::State& state, DecodeFn decode, const char* event,
                 const std::string& body) {
  for (auto _ : state) {
    auto d = decode(event, body);
    if (!d.ok()) state.SkipWithError("payload does not decode");
    benchmark::DoNotOptimize(d);
  }
  SetBytes(state, body);
}

void BM_DecodeWorkflowJob(benchmark::State& state) {
  DecodeBench(state, relayq::handlers::DecodePayload, "workflow_job", JobBody());
}
BENCHMARK(BM_DecodeWorkflowJob);

void BM_DecodeWorkflowRun(benchmark::State& state) {
  DecodeBench(state, relayq::handlers::DecodePayload, "workflow_run", RunBody());
}
BENCHMARK(BM_DecodeWorkflowRun);

void BM_DecodeWorkflowJobNlohmann(benchmark::State& state) {
  DecodeBench(state, relayq::testing::NlohmannDecodePayload, "workflow_job", JobBody());
}
BENCHMARK(BM_DecodeWorkflowJobNlohmann);

void BM_DecodeWorkflowRunNlohmann(benchmark::State& state) {
  DecodeBench(state, relayq::testing::NlohmannDecodePayload, "workflow_run", RunBody());
}
BENCHMARK(BM_DecodeWorkflowRunNlohmann);

// GitHub's form-encoded variant of the 19 KB workflow_run delivery
// (`payload=` + percent-encoded JSON, ~1.5x the bytes): extracting the JSON
// is the step a JSON delivery does not have.
void BM_ExtractFormPayload(benchmark::State& state) {
  static const std::string form = "payload=" + relayq::handlers::FormUrlEncode(RunBody());
  for (auto _ : state) {
    auto json = relayq::handlers::ExtractJson(relayq::handlers::BodyType::kForm, form);
    if (!json.ok()) state.SkipWithError("form body does not decode");
    benchmark::DoNotOptimize(json);
  }
  SetBytes(state, form);
}
BENCHMARK(BM_ExtractFormPayload);

void BM_EncodeBody(benchmark::State& state) {
  const std::string& body = JobBody();
  for (auto _ : state) {
    relayq::store::EncodedBody e = relayq::store::EncodeBody(body);
    benchmark::DoNotOptimize(e);
  }
  SetBytes(state, body);
}
BENCHMARK(BM_EncodeBody);

}  // namespace

BENCHMARK_MAIN();
