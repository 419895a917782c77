// Fuzz target: the audit/API filter parsers, as `relayq audit` and
// GET /api/v1/{kind} apply them. Input: one field a line:
// "<kind>\n<repo>\n<label>\n<status>\n<since>\n<until>\n<limit>\n<cursor>".
// Each parsed filter is run against a real (empty) store, so cursor decoding
// and the SQL binding of every filter run too.
// Properties: nothing crashes; a time that parses formats and parses back to
// the same second; a duration formats and parses back; List fails only with
// InvalidArgument (never an internal or SQL error).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/clock.h"
#include "common/time_format.h"
#include "store/query.h"
#include "store/store.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

std::unique_ptr<relayq::store::StoreReader>& Reader() {
  static std::unique_ptr<relayq::store::StoreReader> reader;
  return reader;
}

std::optional<std::string> Opt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("relayq-filter-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  relayq::store::StoreOptions options;
  options.path = dir + "/fuzz.db";
  auto store = relayq::store::Store::Open(options, relayq::Clock::Real());
  if (!store.ok()) std::abort();
  store->reset();  // the file now holds an empty relayq store
  auto reader = relayq::store::StoreReader::Open(options.path);
  if (!reader.ok()) std::abort();
  Reader() = std::move(*reader);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relayq::fuzz::FuzzInput in(data, size);
  std::string_view kind = in.Line(), repo = in.Line(), label = in.Line(), status = in.Line();
  std::string_view since = in.Line(), until = in.Line(), limit = in.Line(), cursor = in.Line();
  const relayq::WallTime now = relayq::FromUnixMillis(1795512600000);  // 2026-11-24T09:30:00Z

  if (auto d = relayq::ParseDuration(since); d.ok()) {
    auto whole = std::chrono::duration_cast<std::chrono::seconds>(*d);
    auto back = relayq::ParseDuration(relayq::FormatDuration(whole));
    if (!back.ok() || *back != whole) std::abort();
  }
  if (auto t = relayq::ParseRfc3339(until); t.ok()) {
    auto back = relayq::ParseRfc3339(relayq::FormatRfc3339(*t));
    if (!back.ok() || *back > *t || *t - *back >= 1000) std::abort();  // whole seconds
  }

  auto k = relayq::store::ParseKind(kind);
  if (!k.ok()) return 0;
  relayq::store::ListQuery q;
  q.kind = *k;
  q.repo = Opt(repo);
  q.label = Opt(label);
  q.status = Opt(status);
  if (!since.empty()) {
    auto t = relayq::ParseTimeFilter(since, now);
    if (!t.ok()) return 0;
    q.since_ms = *t;
  }
  if (!until.empty()) {
    auto t = relayq::ParseTimeFilter(until, now);
    if (!t.ok()) return 0;
    q.until_ms = *t;
  }
  if (!limit.empty()) q.limit = static_cast<int>(limit.size() * 37 % 1200) - 50;
  q.cursor = std::string(cursor);
  auto page = Reader()->List(q);
  if (!page.ok() && page.status().code() != relayq::Status::Code::kInvalidArgument) std::abort();
  return 0;
}
