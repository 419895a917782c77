// Splitting one fuzzer input into the several strings a target needs.
//
// FuzzInput hands out successive '\n'-terminated fields of the input and then
// the rest, so that seeds stay readable text ("workflow_job\n{...}"). Header
// only; not thread-safe (one per fuzz iteration).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace relayq::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // The text up to the next '\n' (consumed with it), or all that is left.
  std::string_view Line() {
    size_t nl = rest_.find('\n');
    std::string_view line = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
    return line;
  }
  // Everything not yet consumed.
  std::string_view Rest() const { return rest_; }

 private:
  std::string_view rest_;
};

}  // namespace relayq::fuzz
