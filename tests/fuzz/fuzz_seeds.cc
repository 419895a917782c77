// fuzz_seeds OUT_DIR: writes seed corpora for the fuzz targets, one
// directory per target under OUT_DIR, from the realistic GitHub payloads the
// tests use (tests/fakes/github_payloads.h), in both body encodings and with
// their real signatures. Exit 0 on success, 1 when a file cannot be written.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "handlers/decode.h"
#include "handlers/signature.h"
#include "tests/fakes/github_payloads.h"

namespace {

namespace fs = std::filesystem;
using relayq::testing::JobSpec;
using relayq::testing::RunSpec;

bool Write(const fs::path& dir, const std::string& name, const std::string& data) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUT_DIR\n";
    return 2;
  }
  fs::path out = argv[1];
  std::vector<std::pair<std::string, std::string>> payloads;  // event, json
  for (const char* action : {"queued", "in_progress", "completed", "waiting"}) {
    JobSpec j;
    j.action = action;
    j.steps = 1;  // keep seeds small: the fuzzer mutates faster
    if (std::string(action) != "queued") j.runner_name = "macmini-1";
    if (std::string(action) == "completed") j.conclusion = "success";
    payloads.emplace_back("workflow_job", relayq::testing::WorkflowJobPayload(j));
  }
  JobSpec quirky;
  quirky.null_labels = true;
  quirky.extra_unknown_fields = true;
  quirky.steps = 0;
  payloads.emplace_back("workflow_job", relayq::testing::WorkflowJobPayload(quirky));
  for (const char* action : {"requested", "completed"}) {
    RunSpec r;
    r.action = action;
    if (std::string(action) == "completed") {
      r.conclusion = "success";
      r.display_title.reset();
    }
    payloads.emplace_back("workflow_run", relayq::testing::WorkflowRunPayload(r));
  }
  payloads.emplace_back("ping", relayq::testing::PingPayload("octo-org/media-kit", 42));

  bool ok = true;
  int n = 0;
  for (const auto& [event, json] : payloads) {
    std::string id = std::to_string(n++);
    ok &= Write(out / "decode_fuzz", "json-" + id, "application/json\n" + event + "\n" + json);
    ok &= Write(out / "decode_fuzz", "form-" + id,
                "application/x-www-form-urlencoded; charset=utf-8\n" + event + "\n" +
                    "payload=" + relayq::handlers::FormUrlEncode(json));
    ok &= Write(out / "signature_fuzz", "sig-" + id,
                relayq::handlers::SignBody(json, "It's a Secret to Everybody") + "\n" + json);
  }
  if (!ok) {
    std::cerr << "fuzz_seeds: cannot write under " << out << "\n";
    return 1;
  }
  return 0;
}
