#include "multistore/metrics.hpp"

#include <charconv>
#include <string_view>
#include <type_traits>

namespace multistore {

void latency_histogram::record(std::chrono::nanoseconds elapsed) noexcept {
  auto ns = elapsed.count() < 0 ? 0 : static_cast<std::uint64_t>(elapsed.count());
  double seconds = static_cast<double>(ns) / 1e9;
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  if (ns != 0)  // a cached acquire records 0: one atomic add on its path, not two
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

latency_histogram::snapshot latency_histogram::read() const noexcept {
  snapshot s;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

namespace {

/// Appends lines to one exposition text.
class exposition {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  template <class Number>
  void sample(std::string_view name, std::string_view labels, Number value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    append(value);
    out_ += '\n';
  }

  template <class Number>
  void single(std::string_view name, std::string_view type, std::string_view help,
              Number value) {
    header(name, type, help);
    sample(name, "", value);
  }

  void histogram(std::string_view name, std::string_view help,
                 const latency_histogram::snapshot& h) {
    header(name, "histogram", help);
    std::string bucket{name};
    bucket += "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      std::string le = "le=\"";
      if (i < latency_histogram::bounds.size())
        le += number(latency_histogram::bounds[i]);
      else
        le += "+Inf";
      le += '"';
      sample(bucket, le, cumulative);
    }
    sample(std::string{name} + "_sum", "", h.sum_seconds);
    sample(std::string{name} + "_count", "", h.count);
  }

  std::string take() { return std::move(out_); }

 private:
  template <class Number>
  static std::string number(Number value) {
    char buf[64];
    std::to_chars_result r;
    if constexpr (std::is_floating_point_v<Number>)
      r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);  // 0.0001, not 1e-04
    else
      r = std::to_chars(buf, buf + sizeof buf, value);
    return r.ec == std::errc{} ? std::string{buf, r.ptr} : std::string{"NaN"};
  }

  template <class Number>
  void append(Number value) {
    out_ += number(value);
  }

  std::string out_;
};

}  // namespace

std::string render_prometheus(const registry_stats& stats, const registry_metrics& metrics,
                              const process_figures& process) {
  exposition x;
  x.header("multistore_stores", "gauge", "Store ids by lifecycle phase.");
  x.sample("multistore_stores", "phase=\"loading\"", stats.loading);
  x.sample("multistore_stores", "phase=\"active\"", stats.active);
  x.sample("multistore_stores", "phase=\"inactive\"", stats.inactive);
  x.sample("multistore_stores", "phase=\"closing\"", stats.closing);
  x.sample("multistore_stores", "phase=\"queued\"", stats.queued);
  x.single("multistore_loads_total", "counter", "Store loads started.", stats.loads);
  x.single("multistore_load_failures_total", "counter",
           "Loads that failed (errors, boot throws, over the open-store limit).",
           stats.load_failures);
  x.single("multistore_disposals_total", "counter",
           "Store instances shut down by GC, eviction, clear or shutdown.", stats.disposals);
  x.single("multistore_evictions_total", "counter",
           "Inactive stores disposed early to stay under max_open_stores.", stats.evictions);
  x.single("multistore_leases", "gauge", "Observer leases held, waiting callers included.",
           stats.leases);
  x.single("multistore_waiting_calls", "gauge", "use and preload calls waiting for a load.",
           stats.waiting);
  x.single("multistore_gc_timers", "gauge", "GC timers armed and not yet fired.",
           stats.pending_timers);
  auto load = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  x.single("multistore_commits_total", "counter", "Commit calls written and answered.",
           load(metrics.commits));
  x.single("multistore_events_committed_total", "counter", "Events in the commits written.",
           load(metrics.events_committed));
  x.single("multistore_commit_failures_total", "counter",
           "Commit calls answered with an error (overloaded ones included).",
           load(metrics.commit_failures));
  x.single("multistore_overloaded_commits_total", "counter",
           "Commits refused at once because their store held max_pending_commits.",
           load(metrics.overloaded_commits));
  x.single("multistore_pending_commits", "gauge",
           "Commits taken by the stores and not yet answered.", load(metrics.pending_commits));
  x.histogram("multistore_acquire_latency_seconds",
              "From the registry taking an acquire to its answer (cached: 0).",
              metrics.acquire_latency.read());
  x.histogram("multistore_commit_latency_seconds",
              "From a store taking a commit to its durable answer.",
              metrics.commit_latency.read());
  x.single("multistore_open_file_descriptors", "gauge", "File descriptors the process holds.",
           process.open_file_descriptors);
  x.single("multistore_resident_memory_bytes", "gauge", "The process's resident set size.",
           process.resident_bytes);
  return x.take();
}

}  // namespace multistore
