#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace relayq {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::Observe(double v) {
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  if (v > 0) {
    sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(v * 1e6)), std::memory_order_relaxed);
  }
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.push_back(running);
  }
  return out;
}

double Histogram::Sum() const {
  return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
}

uint64_t Histogram::Count() const { return BucketCounts().back(); }

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  MutexLock lock(mu_);
  Family& f = families_[name];
  f.type = "counter";
  f.help = help;
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& bounds,
                                         const MetricLabels& labels) {
  MutexLock lock(mu_);
  Family& f = families_[name];
  f.type = "histogram";
  f.help = help;
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

void MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                               std::function<std::vector<std::pair<MetricLabels, double>>()> read) {
  MutexLock lock(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.gauges.push_back(std::move(read));
}

void MetricsRegistry::AddCounterReader(
    const std::string& name, const std::string& help,
    std::function<std::vector<std::pair<MetricLabels, double>>()> read) {
  MutexLock lock(mu_);
  Family& f = families_[name];
  f.type = "counter";
  f.help = help;
  f.gauges.push_back(std::move(read));
}

namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderLabels(const MetricLabels& labels, const std::string& extra_key = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabel(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ",";
    out += extra_key + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  MutexLock lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + RenderLabels(labels) + " " + std::to_string(c->Value()) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      std::vector<uint64_t> counts = h->BucketCounts();
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        out += name + "_bucket" + RenderLabels(labels, "le", FormatValue(h->bounds()[i])) + " " +
               std::to_string(counts[i]) + "\n";
      }
      out += name + "_bucket" + RenderLabels(labels, "le", "+Inf") + " " +
             std::to_string(counts.back()) + "\n";
      out += name + "_sum" + RenderLabels(labels) + " " + FormatValue(h->Sum()) + "\n";
      out += name + "_count" + RenderLabels(labels) + " " + std::to_string(counts.back()) + "\n";
    }
    for (const auto& read : f.gauges) {
      for (const auto& [labels, v] : read()) {
        out += name + RenderLabels(labels) + " " + FormatValue(v) + "\n";
      }
    }
  }
  return out;
}

uint64_t MetricsRegistry::CounterValue(const std::string& name, const MetricLabels& labels) const {
  MutexLock lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto c = f->second.counters.find(labels);
  return c == f->second.counters.end() ? 0 : c->second->Value();
}

}  // namespace relayq
