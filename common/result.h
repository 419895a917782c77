// Result<T>: a T, or the Status that explains why there is none.
//
// Accessing value() of a failed Result is a bug and aborts. Thread safety: a
// value type, like Status.
#pragma once

#include <cstdlib>
#include <optional>
#include <utility>

#include "common/status.h"

namespace relayq {

template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value or from a failed Status, so `return value;` and
  // `return Status::NotFound(...)` both work in a function returning Result.
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::Internal("Result built from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    Check();
    return *value_;
  }
  const T& value() const& {
    Check();
    return *value_;
  }
  T&& value() && {
    Check();
    return std::move(*value_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!value_.has_value()) std::abort();
  }

  std::optional<T> value_;
  Status status_;  // ok exactly when value_ holds a value
};

}  // namespace relayq

// Assigns the value of a Result expression to `lhs`, or returns its Status.
#define RELAYQ_ASSIGN_OR_RETURN(lhs, expr)                    \
  auto RELAYQ_CONCAT_(relayq_result_, __LINE__) = (expr);     \
  if (!RELAYQ_CONCAT_(relayq_result_, __LINE__).ok())         \
    return RELAYQ_CONCAT_(relayq_result_, __LINE__).status(); \
  lhs = std::move(RELAYQ_CONCAT_(relayq_result_, __LINE__)).value()
#define RELAYQ_CONCAT_INNER_(a, b) a##b
#define RELAYQ_CONCAT_(a, b) RELAYQ_CONCAT_INNER_(a, b)
