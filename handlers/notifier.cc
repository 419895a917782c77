#include "handlers/notifier.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/time_format.h"
#include "store/notify_reads.h"
#include "store/recovery_reads.h"

namespace relayq::handlers {

using nlohmann::json;
using notify::EventKind;
using notify::Notification;

namespace {

constexpr int kScanLimit = 200;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::string Ago(int64_t now_ms, int64_t then_ms) {
  return FormatDuration(std::chrono::seconds(std::max<int64_t>(0, (now_ms - then_ms) / 1000)));
}

std::string Dur(std::chrono::milliseconds d) {
  return FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

}  // namespace

Notifier::Notifier(NotifierOptions options, store::ActionStore& actions, const store::Database& db,
                   notify::Sender& sender, Clock& clock, MetricsRegistry& metrics)
    : options_(std::move(options)),
      actions_(actions),
      db_(db),
      sender_(sender),
      clock_(clock),
      metrics_(metrics),
      limiter_(options_.rate_limit, clock),
      worker_(clock_,
              {.period = std::max(std::chrono::milliseconds(10), options_.check_interval),
               .run_at_start = true,
               .threads = 1},
              [this](PeriodicWorker::Pass&) { CheckOnce(); }) {
  MutexLock lock(pass_mu_);
  ended_since_ = ToUnixMillis(clock_.Now()) - options_.lookback.count();
  // The baseline of the signature-failure count is taken now, not at the
  // first check: failures that arrive before that check still form a burst.
  signature_samples_.emplace_back(clock_.Monotonic(),
                                  metrics_.CounterValue("relayq_webhook_signature_failures_total"));
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() { worker_.Start(); }

void Notifier::Stop() { worker_.Stop(); }

const notify::Target* Notifier::FindTarget(const std::string& name) const {
  for (const notify::Target& t : options_.targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void Notifier::CountSent(const notify::Target& t, EventKind kind, bool ok) {
  metrics_
      .GetCounter("relayq_notifications_total", "Notification attempts by kind, target and outcome",
                  {{"kind", std::string(notify::EventKindName(kind))},
                   {"target", t.name},
                   {"outcome", ok ? "sent" : "failed"}})
      ->Increment();
}

int Notifier::Raise(const Notification& n) {
  const std::string kind(notify::EventKindName(n.kind));
  const std::string event_key = kind + ":" + n.key;
  std::vector<const notify::Target*> fresh;
  for (const notify::Target& t : options_.targets) {
    if (!t.Wants(n.kind)) continue;
    auto existing = actions_.GetActionByKey("notify:" + t.name + ":" + event_key);
    if (!existing.ok()) {
      Log(LogLevel::kWarn, "notification not queued: the store cannot be read",
          {{"kind", kind}, {"event", n.key}, {"error", existing.status().message()}});
      return 0;
    }
    if (!*existing) fresh.push_back(&t);
  }
  if (fresh.empty()) return 0;
  if (!limiter_.Allow(n.kind)) {
    bool first;
    {
      MutexLock lock(mu_);
      // Bounded: events held back and never seen again (an action that
      // failed once) leave their key here.
      if (held_keys_.size() >= 10000) held_keys_.clear();
      first = held_keys_.insert(event_key).second;
    }
    if (first) {
      limiter_.Hold(n.kind);
      metrics_
          .GetCounter("relayq_notifications_held_total",
                      "Notifications held back by notify.rate_limit, by kind", {{"kind", kind}})
          ->Increment();
      Log(LogLevel::kWarn, "notification held back by the rate limit",
          {{"kind", kind}, {"event", n.key}, {"title", n.title}});
    }
    return 0;
  }
  {
    MutexLock lock(mu_);
    held_keys_.erase(event_key);
  }
  return Queue(n, fresh);
}

int Notifier::Queue(const Notification& n, const std::vector<const notify::Target*>& targets) {
  const std::string kind(notify::EventKindName(n.kind));
  const int64_t now = ToUnixMillis(clock_.Now());
  int queued = 0;
  for (const notify::Target* t : targets) {
    store::NewAction a;
    a.kind = store::ActionKind::kNotify;
    a.key = "notify:" + t->name + ":" + kind + ":" + n.key;
    auto repo = n.ids.find("repository");
    a.repository = repo == n.ids.end() ? "" : repo->second;
    a.reason = n.title;
    a.payload = json{{"target", t->name}, {"notification", json::parse(notify::ToJson(n))}}.dump();
    auto recorded = actions_.RecordAction(a, now);
    if (!recorded.ok()) {
      Log(LogLevel::kWarn, "notification not queued: the store refused the write",
          {{"kind", kind}, {"target", t->name}, {"error", recorded.status().message()}});
      continue;
    }
    if (*recorded) ++queued;
  }
  if (queued > 0 && wake_) wake_();
  return queued;
}

Status Notifier::Deliver(const store::ActionRecord& action, std::string& what) {
  json payload = json::parse(action.payload, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || !payload.contains("target") || !payload["target"].is_string() ||
      !payload.contains("notification")) {
    return Status::InvalidArgument("the queued notification is malformed");
  }
  const std::string name = payload["target"].get<std::string>();
  const notify::Target* target = FindTarget(name);
  if (target == nullptr) {
    return Status::InvalidArgument("no notify target named '" + name + "' is configured any more");
  }
  auto n = notify::FromJson(payload["notification"].dump());
  if (!n.ok()) return n.status();
  auto sent = sender_.Send(*target, *n);
  CountSent(*target, n->kind, sent.ok());
  if (!sent.ok()) return sent.status();
  what = "sent " + std::string(notify::EventKindName(n->kind)) + " to " + name + " (" +
         std::string(notify::TargetFormatName(target->format)) + "): HTTP " + std::to_string(*sent);
  return Status::Ok();
}

void Notifier::SendDirect(const Notification& n) {
  for (const notify::Target& t : options_.targets) {
    if (!t.Wants(n.kind)) continue;
    auto sent = sender_.Send(t, n);
    CountSent(t, n.kind, sent.ok());
    LogFields f = {{"kind", std::string(notify::EventKindName(n.kind))},
                   {"target", t.name},
                   {"event", n.key},
                   {"delivery", "direct (not queued: the store cannot be written)"}};
    if (sent.ok()) {
      f.emplace_back("answer", "HTTP " + std::to_string(*sent));
      Log(LogLevel::kInfo, "notification sent", f);
    } else {
      f.emplace_back("error", sent.status().message());
      Log(LogLevel::kWarn, "notification failed", f);
    }
  }
}

void Notifier::CheckOnce() {
  MutexLock pass(pass_mu_);
  const int64_t now = ToUnixMillis(clock_.Now());
  if (writable_check_) {
    Status writable = writable_check_();
    if (!writable.ok()) {
      if (!store_alerted_) {
        store_alerted_ = true;
        Notification n;
        n.kind = EventKind::kStoreUnwritable;
        n.key = "outage:" + std::to_string(now);
        n.time_ms = now;
        n.priority = "urgent";
        n.title = "relayq: the store cannot be written";
        n.message = "relayq cannot write its store " + db_.path() + ": " + writable.message() +
                    "\nWebhook deliveries are refused until it can (GitHub keeps them for "
                    "redelivery; relayq recovers them once the store is writable).";
        n.ids["store"] = db_.path();
        SendDirect(n);
      }
      return;  // nothing else can be queued meanwhile
    }
    if (store_alerted_) {
      store_alerted_ = false;
      Log(LogLevel::kInfo, "the store is writable again");
    }
  }
  // Summaries first: when the window reopens, what was held back is told
  // before new events of the kind take the room again.
  SendSummaries(now);
  CheckEndedActions(now);
  if (options_.job_stuck_after.count() > 0) CheckStuckJobs(now);
  if (options_.signature_count > 0) CheckSignatureFailures(now);
  if (options_.runner_offline_after.count() > 0 && github_ != nullptr && policy_ != nullptr) {
    CheckRunners(now);
  }
}

void Notifier::CheckEndedActions(int64_t /*now*/) {
  auto ended = store::EndedActionsSince(db_, ended_since_, kScanLimit);
  if (!ended.ok()) return;
  for (const store::ActionRecord& a : *ended) {
    ended_since_ = std::max(ended_since_, a.done_at.value_or(ended_since_));
    Notification n;
    const std::string status(store::ActionStatusName(a.status));
    n.kind = a.status == store::ActionStatus::kFailed    ? EventKind::kActionFailed
             : a.status == store::ActionStatus::kRefused ? EventKind::kActionRefused
                                                         : EventKind::kActionAborted;
    n.key = "action:" + std::to_string(a.id);
    n.time_ms = a.done_at.value_or(a.updated_at);
    n.priority = n.kind == EventKind::kActionAborted ? "default" : "high";
    const std::string kind(store::ActionKindName(a.kind));
    n.title =
        "relayq: " + kind + " " + status + (a.repository.empty() ? "" : " (" + a.repository + ")");
    n.message = "Routing action " + std::to_string(a.id) + " (" + kind + ", key " + a.key + ") " +
                status + ".";
    if (!a.reason.empty()) n.message += "\nWhy relayq acted: " + a.reason;
    if (a.last_error) n.message += "\nLast error: " + *a.last_error;
    n.message += "\nAttempts: " + std::to_string(a.attempts);
    n.ids = {{"action_id", std::to_string(a.id)},
             {"action_kind", kind},
             {"action_key", a.key},
             {"status", status},
             {"reason", a.reason},
             {"repository", a.repository}};
    if (a.last_error) n.ids["last_error"] = *a.last_error;
    if (a.job_id) n.ids["job_id"] = std::to_string(*a.job_id);
    if (a.run_id) {
      n.ids["run_id"] = std::to_string(*a.run_id);
      if (!options_.web_url.empty() && !a.repository.empty()) {
        n.links.emplace_back("run", options_.web_url + "/" + a.repository + "/actions/runs/" +
                                        std::to_string(*a.run_id));
      }
    }
    Raise(n);
  }
}

void Notifier::CheckStuckJobs(int64_t now) {
  auto stuck = store::StuckQueuedJobs(db_, now - options_.job_stuck_after.count(), kScanLimit);
  if (!stuck.ok()) return;
  for (const store::JobState& j : *stuck) {
    const int64_t queued_at = j.queued_at.value_or(now);
    Notification n;
    n.kind = EventKind::kJobStuck;
    n.key = "job:" + std::to_string(j.id) + ":" + std::to_string(j.run_attempt);
    n.time_ms = now;
    n.priority = "high";
    n.title = "relayq: job queued for " + Ago(now, queued_at) + " (" + j.repository + ")";
    n.message = "Job '" + j.name + "' (id " + std::to_string(j.id) + ") of " +
                (j.workflow_name.empty() ? "run" : "workflow '" + j.workflow_name + "', run") +
                " " + std::to_string(j.run_id) + " has been queued since " +
                FormatRfc3339(queued_at) + " waiting for a runner with labels [" + Join(j.labels) +
                "], and no routing action is under way for it.";
    n.ids = {{"job_id", std::to_string(j.id)},
             {"run_id", std::to_string(j.run_id)},
             {"run_attempt", std::to_string(j.run_attempt)},
             {"repository", j.repository},
             {"labels", Join(j.labels, ",")},
             {"queued_at", FormatRfc3339(queued_at)}};
    if (!options_.web_url.empty()) {
      n.links.emplace_back("run", options_.web_url + "/" + j.repository + "/actions/runs/" +
                                      std::to_string(j.run_id));
    }
    Raise(n);
  }
}

void Notifier::CheckSignatureFailures(int64_t now) {
  const MonoTime mono = clock_.Monotonic();
  const uint64_t value = metrics_.CounterValue("relayq_webhook_signature_failures_total");
  signature_samples_.emplace_back(mono, value);
  // Keep one sample at or before the window's start as the baseline.
  while (signature_samples_.size() > 1 &&
         mono - signature_samples_[1].first >= options_.signature_window) {
    signature_samples_.erase(signature_samples_.begin());
  }
  const uint64_t failed = value - signature_samples_.front().second;
  if (failed < static_cast<uint64_t>(options_.signature_count)) {
    in_signature_burst_ = false;
    return;
  }
  if (in_signature_burst_) return;
  in_signature_burst_ = true;
  Notification n;
  n.kind = EventKind::kSignatureFailures;
  n.key = "burst:" + std::to_string(now);
  n.time_ms = now;
  n.priority = "high";
  n.title = "relayq: " + std::to_string(failed) + " deliveries failed the signature check";
  n.message = std::to_string(failed) + " webhook deliveries were refused for a missing or wrong " +
              "X-Hub-Signature-256 within " + Dur(options_.signature_window) +
              ". Either someone without the secret is posting to /webhook, or the webhook's " +
              "secret on GitHub no longer matches relayq's (a rotation half done?).";
  n.ids = {{"failures", std::to_string(failed)},
           {"window_seconds", std::to_string(options_.signature_window.count() / 1000)}};
  Raise(n);
}

void Notifier::CheckRunners(int64_t now) {
  std::shared_ptr<const policy::Policy> policy = policy_->Get();
  std::map<std::string, std::vector<std::string>> routes_by_label;  // lower-case label
  for (const policy::Route& r : policy->routes) {
    for (const auto* labels : {&r.prefer, &r.fallback}) {
      for (const std::string& l : *labels) {
        if (Lower(l) == "self-hosted") continue;
        auto& names = routes_by_label[Lower(l)];
        if (std::find(names.begin(), names.end(), r.name) == names.end()) names.push_back(r.name);
      }
    }
  }
  if (routes_by_label.empty()) return;
  std::vector<std::string> repos = options_.repositories;
  auto seen = store::SeenRepositories(db_, now - int64_t{7} * 24 * 3600 * 1000);
  if (seen.ok()) {
    for (const auto& r : *seen) {
      if (std::none_of(repos.begin(), repos.end(),
                       [&](const std::string& x) { return Lower(x) == Lower(r); })) {
        repos.push_back(r);
      }
    }
  }
  std::set<std::string> known, online;
  for (const std::string& repo : repos) {
    auto runners = github_->ListRunners(repo);
    if (!runners.ok()) return;  // unknown is not offline: judge on the next pass
    for (const github::Runner& runner : *runners) {
      for (const std::string& l : runner.labels) {
        known.insert(Lower(l));
        if (runner.online()) online.insert(Lower(l));
      }
    }
  }
  const MonoTime mono = clock_.Monotonic();
  for (const auto& [label, routes] : routes_by_label) {
    if (!known.count(label) || online.count(label)) {
      offline_labels_.erase(label);
      continue;
    }
    auto [it, inserted] = offline_labels_.try_emplace(label, Offline{now, mono, false});
    Offline& o = it->second;
    if (o.told || mono - o.since < options_.runner_offline_after) continue;
    o.told = true;
    Notification n;
    n.kind = EventKind::kRunnerOffline;
    n.key = "label:" + label + ":" + std::to_string(o.since_ms);
    n.time_ms = now;
    n.priority = "high";
    n.title = "relayq: no online runner for label '" + label + "'";
    n.message = "No self-hosted runner carrying '" + label + "' has been online since " +
                FormatRfc3339(o.since_ms) + " (" + Ago(now, o.since_ms) +
                "). Routes using it: " + Join(routes) + ". Repositories checked: " + Join(repos) +
                ".";
    n.ids = {{"label", label}, {"routes", Join(routes, ",")}, {"repositories", Join(repos, ",")}};
    Raise(n);
  }
}

void Notifier::SendSummaries(int64_t now) {
  for (EventKind kind : notify::AllEventKinds()) {
    auto held = limiter_.TakeSummary(kind);
    if (!held) continue;
    const std::string name(notify::EventKindName(kind));
    Notification n;
    n.kind = kind;
    n.key = "held:" + std::to_string(held->since_ms);
    n.time_ms = now;
    n.title = "relayq: " + std::to_string(held->count) + " " + name + " notifications held back";
    n.message = "The rate limit (notify.rate_limit: at most " +
                std::to_string(options_.rate_limit.max) + " " + name + " notifications per " +
                Dur(options_.rate_limit.per) + ") held back " + std::to_string(held->count) +
                " since " + FormatRfc3339(held->since_ms) +
                ". See `relayq audit actions` and relayq's log for what happened.";
    n.ids = {{"held", std::to_string(held->count)}, {"held_since", FormatRfc3339(held->since_ms)}};
    // The summary took its slot in TakeSummary: queue it past the limit.
    std::vector<const notify::Target*> targets;
    for (const notify::Target& t : options_.targets) {
      if (t.Wants(kind)) targets.push_back(&t);
    }
    Queue(n, targets);
  }
}

}  // namespace relayq::handlers
