#pragma once

// tenant_sim --virtual: the workload model run on the deterministic fixture
// and its virtual clock (README "Simulating your workload"). The same model
// and seed give the same report, byte for byte.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tenant_sim {

/// The workload: who asks, how often, what they do, and what a load costs.
///
/// Clients arrive as sessions: a session picks a tenant and one of its
/// issues (both Zipf-popular), uses the tenant's workspace store and the
/// issue store, makes `session_requests` requests separated by think times,
/// and releases both stores after its last request. A request reads the
/// issue, comments on it (commits one event) or lists the workspace.
struct virtual_model {
  std::chrono::milliseconds duration{std::chrono::hours{24}};
  int tenants = 100;            ///< workspace stores (gc_never)
  int issues = 20;              ///< issue stores per tenant (gc_time below)
  double zipf_exponent = 1.1;   ///< popularity of tenants, and of issues within one
  double mean_rate = 50;        ///< requests per virtual second, over a whole day
  /// Arrival rate of each hour of the day as a multiple of `mean_rate`
  /// (normalised to a mean of 1).
  std::array<double, 24> daily_curve{0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.2, 1.6, 1.8, 1.8, 1.7,
                                     1.5, 1.6, 1.7, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.6, 0.5, 0.4};
  /// 0: Poisson session arrivals on the curve; else one session every this often.
  std::chrono::milliseconds fixed_interval{0};
  int session_requests = 4;  ///< requests per session
  /// Mean think time between a session's requests (exponential; fixed when
  /// arrivals are fixed).
  std::chrono::milliseconds think_time{std::chrono::seconds{2}};
  double write_share = 0.2;  ///< requests that comment (commit); the rest read
  double list_share = 0.2;   ///< requests that list the workspace (of those that read)
  std::chrono::milliseconds gc_time{std::chrono::seconds{60}};  ///< of the issue stores
  std::size_t max_open_stores = 0;  ///< 0: the registry's default
  /// What a session waits for each load it causes: a store never loaded
  /// before, and one loaded again after GC. Accounted, not simulated: it
  /// does not move the clock.
  std::chrono::microseconds cold_load_cost{3000};
  std::chrono::microseconds reload_cost{700};
  /// Empty: memory stores; else SQLite files in this directory.
  std::filesystem::path data;
  /// Per open store, for the estimates (multistore_scale_bench, 2026-12-02:
  /// a memory store 47.5 KiB and no descriptor; a file store 137 KiB and
  /// three descriptors: SQLite's and the lock's on the database, and the WAL).
  double store_kib() const { return data.empty() ? 47.5 : 137.1; }
  int store_fds() const { return data.empty() ? 0 : 3; }
  std::uint64_t seed = 1;
};

/// One virtual hour, one chart bucket, or the whole run.
struct virtual_figures {
  std::uint64_t sessions = 0;
  std::uint64_t requests = 0;
  std::uint64_t refused = 0;         ///< sessions whose use failed (open-store limit)
  std::uint64_t cold_loads = 0;
  std::uint64_t reloads = 0;
  std::uint64_t disposals = 0;
  std::uint64_t evictions = 0;
  std::uint64_t commits = 0;
  std::uint64_t waited = 0;          ///< sessions that caused at least one load
  std::uint64_t wait_us = 0;         ///< their summed load cost
  std::uint64_t wait_max_us = 0;
  /// Stores open (loading, active, inactive) and by phase, sampled at each
  /// session's start: peak and mean.
  std::size_t open_peak = 0;
  std::size_t active_peak = 0;
  std::size_t inactive_peak = 0;
  double open_mean = 0;
  double active_mean = 0;
  double inactive_mean = 0;
};

struct virtual_report {
  virtual_model model;
  std::vector<virtual_figures> hours;
  /// The run cut into `bucket`-long pieces, for the chart.
  std::chrono::milliseconds bucket{0};
  std::vector<virtual_figures> buckets;
  virtual_figures total;
  /// The deterministic report: model, hours, buckets and total (no
  /// wall-clock figure).
  nlohmann::json to_json() const;
};

/// The figures of one period as JSON, estimates included.
nlohmann::json figures_json(const virtual_figures& f, const virtual_model& m);

/// Runs the model on a fresh fixture.
virtual_report run_virtual(const virtual_model& model);

}  // namespace tenant_sim
