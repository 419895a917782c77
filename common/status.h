// Status: the outcome of an operation that can fail in an expected way.
//
// Functions that can fail return a Status (or a Result<T>, see result.h)
// instead of throwing. A Status is either ok() or carries a named Code and a
// human-readable message. Messages are shown to users and logged, so they must
// never contain a secret. Thread safety: a Status is a value; copies are
// independent.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace relayq {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,   // the caller's input is wrong (bad flag, bad config value)
    kInvalidSignature,  // a webhook signature did not verify
    kNotFound,
    kConflict,          // the operation collides with existing state (e.g. GitHub 409)
    kUnavailable,       // try again later: network down, disk full, store locked
    kRateLimited,       // GitHub asked us to slow down
    kPermissionDenied,  // credentials missing or refused
    kIoError,           // the OS refused a file or socket operation
    kCorruption,        // stored data is not what we wrote
    kInternal,          // a bug: an invariant did not hold
    kOutcomeUnknown,    // a non-idempotent request may or may not have taken
                        // effect (timeout or 5xx after it was sent): find out
                        // before sending it again
  };

  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status InvalidSignature(std::string msg) {
    return {Code::kInvalidSignature, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status RateLimited(std::string msg) { return {Code::kRateLimited, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status OutcomeUnknown(std::string msg) { return {Code::kOutcomeUnknown, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "ok", or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>" (ok stays ok).
  Status WithContext(std::string_view prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// The stable lower-case name of a code ("invalid_argument", "unavailable", ...).
std::string_view CodeName(Status::Code code);

}  // namespace relayq

// Returns early from the enclosing function when `expr` is not ok.
#define RELAYQ_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::relayq::Status relayq_status_ = (expr);        \
    if (!relayq_status_.ok()) return relayq_status_; \
  } while (0)
