// A small metrics registry rendered in Prometheus text format.
//
// Counters and histograms are created once (at component construction) and
// then updated lock-free from any thread; the returned pointers stay valid for
// the registry's lifetime. Gauges (and counters kept elsewhere) are callbacks
// read at render time. A metric
// name with different label values is one family. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"

namespace relayq {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count per bound, then the total count, and the sum.
  std::vector<uint64_t> BucketCounts() const;
  double Sum() const;
  uint64_t Count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound plus +Inf
  std::atomic<uint64_t> sum_micro_{0};                // sum in millionths
};

class MetricsRegistry {
 public:
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const MetricLabels& labels = {});
  // `read` is called at render time, from the rendering thread.
  void AddGauge(const std::string& name, const std::string& help,
                std::function<std::vector<std::pair<MetricLabels, double>>()> read);
  // As AddGauge, for a value that only grows (kept elsewhere, e.g. a
  // client's own counts, or /proc): rendered with `# TYPE counter`. The name
  // must end in _total (Prometheus naming), except for process_ metrics
  // whose standard names say otherwise.
  void AddCounterReader(const std::string& name, const std::string& help,
                        std::function<std::vector<std::pair<MetricLabels, double>>()> read);

  // The whole registry in Prometheus text exposition format 0.0.4.
  std::string RenderPrometheus() const;

  // The value of one counter (0 if absent); for tests and the dashboard.
  uint64_t CounterValue(const std::string& name, const MetricLabels& labels = {}) const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
    std::vector<std::function<std::vector<std::pair<MetricLabels, double>>()>> gauges;
  };
  mutable Mutex mu_;
  std::map<std::string, Family> families_ GUARDED_BY(mu_);
};

}  // namespace relayq
