#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "multistore/store_info.hpp"

/// What a registry and its stores count while they work, and its rendering
/// in Prometheus's text exposition format (version 0.0.4), which
/// `store_registry::metrics()` returns. Every counter is a relaxed atomic:
/// the stores bump them from their own threads, a scrape reads them whenever.
namespace multistore {

/// Durations in fixed buckets, in seconds, as a Prometheus histogram.
class latency_histogram {
 public:
  /// The buckets' upper bounds in seconds, from 100 µs to 10 s (+Inf is implied).
  static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                 0.005,  0.01,    0.025,  0.05,  0.1,
                                                 0.25,   0.5,     1.0,    10.0};

  struct snapshot {
    /// Per bucket, not cumulative; the last one is (bounds.back(), +Inf).
    std::array<std::uint64_t, bounds.size() + 1> counts{};
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };

  void record(std::chrono::nanoseconds elapsed) noexcept;
  snapshot read() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

/// The counters one registry shares with its stores.
struct registry_metrics {
  std::atomic<std::uint64_t> commits{0};           ///< commit calls written and answered
  std::atomic<std::uint64_t> events_committed{0};  ///< events in them
  std::atomic<std::uint64_t> commit_failures{0};   ///< commit calls answered with an error
  std::atomic<std::uint64_t> overloaded_commits{0};  ///< refused at once: max_pending_commits
  std::atomic<std::int64_t> pending_commits{0};      ///< over every store, not yet answered
  /// From the registry taking an acquire to its answer; a call served from
  /// the cache is answered in the same step and counts as 0 (no clock read).
  latency_histogram acquire_latency;
  /// From a store taking a commit to its answer, once durable.
  latency_histogram commit_latency;
};

/// What one store reports to the registry's listings, written by the store,
/// read by whoever lists it.
struct store_gauges {
  std::atomic<std::uint64_t> head{0};             ///< last sequence number in the log
  std::atomic<std::uint64_t> pending_commits{0};  ///< taken, not yet answered
  std::atomic<std::uint64_t> subscriptions{0};
};

/// What the process holds, read next to the registry's figures.
struct process_figures {
  std::size_t open_file_descriptors = 0;
  std::uint64_t resident_bytes = 0;
};

/// The registry's metrics as Prometheus text exposition (0.0.4): `# HELP`
/// and `# TYPE` lines, `multistore_` names, base units (seconds, bytes).
/// Series are per registry only: no label carries a store id.
std::string render_prometheus(const registry_stats& stats, const registry_metrics& metrics,
                              const process_figures& process);

}  // namespace multistore
