// The names of the domain enums of model.h: the one place they are spelled
// for the SQL rows, JSON and CLI output.
#include "store/model.h"

#include <array>
#include <utility>

namespace relayq::store {
namespace {

// Looks `value` up in a {value, name} table; `fallback` when absent.
template <typename E, size_t N>
std::string_view NameIn(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
E ParseIn(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name,
          E fallback) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return fallback;
}

constexpr std::array<std::pair<Outcome, std::string_view>, 5> kOutcomes = {{
    {Outcome::kAccepted, "accepted"},
    {Outcome::kPing, "ping"},
    {Outcome::kIgnored, "ignored"},
    {Outcome::kRefused, "refused"},
    {Outcome::kUndecodable, "undecodable"},
}};

constexpr std::array<std::pair<ActionKind, std::string_view>, 4> kActionKinds = {{
    {ActionKind::kFallback, "fallback"},
    {ActionKind::kChain, "chain"},
    {ActionKind::kDispatch, "dispatch"},
    {ActionKind::kNotify, "notify"},
}};

constexpr std::array<std::pair<ActionStatus, std::string_view>, 7> kActionStatuses = {{
    {ActionStatus::kScheduled, "scheduled"},
    {ActionStatus::kPending, "pending"},
    {ActionStatus::kRunning, "running"},
    {ActionStatus::kDone, "done"},
    {ActionStatus::kFailed, "failed"},
    {ActionStatus::kAborted, "aborted"},
    {ActionStatus::kRefused, "refused"},
}};

constexpr std::array<std::pair<RequestStatus, std::string_view>, 3> kRequestStatuses = {{
    {RequestStatus::kPending, "pending"},
    {RequestStatus::kDispatched, "dispatched"},
    {RequestStatus::kFailed, "failed"},
}};

}  // namespace

std::string_view OutcomeName(Outcome o) { return NameIn(kOutcomes, o); }

std::string_view ActionKindName(ActionKind k) { return NameIn(kActionKinds, k); }
ActionKind ParseActionKind(std::string_view name) {
  return ParseIn(kActionKinds, name, ActionKind::kUnknown);
}

std::string_view ActionStatusName(ActionStatus s) { return NameIn(kActionStatuses, s); }
ActionStatus ParseActionStatus(std::string_view name) {
  return ParseIn(kActionStatuses, name, ActionStatus::kUnknown);
}
bool IsFinal(ActionStatus s) {
  return s == ActionStatus::kDone || s == ActionStatus::kFailed || s == ActionStatus::kAborted ||
         s == ActionStatus::kRefused;
}

std::string_view RequestStatusName(RequestStatus s) { return NameIn(kRequestStatuses, s); }
RequestStatus ParseRequestStatus(std::string_view name) {
  return ParseIn(kRequestStatuses, name, RequestStatus::kUnknown);
}

}  // namespace relayq::store
