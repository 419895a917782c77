#include "common/status.h"

namespace relayq {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid_argument";
    case Status::Code::kInvalidSignature:
      return "invalid_signature";
    case Status::Code::kNotFound:
      return "not_found";
    case Status::Code::kConflict:
      return "conflict";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kRateLimited:
      return "rate_limited";
    case Status::Code::kPermissionDenied:
      return "permission_denied";
    case Status::Code::kIoError:
      return "io_error";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kInternal:
      return "internal";
    case Status::Code::kOutcomeUnknown:
      return "outcome_unknown";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  std::string msg(prefix);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace relayq
