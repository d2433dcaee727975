#pragma once

// tenant_sim --virtual: the workload model run on the deterministic fixture
// and its virtual clock (README "Simulating your workload"). The same model
// and seed give the same report, byte for byte.

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace tenant_sim {

/// The workload: who asks, how often, and what a load costs.
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
  /// 0: Poisson arrivals on the curve; else one request every this often.
  std::chrono::milliseconds fixed_interval{0};
  std::chrono::milliseconds gc_time{std::chrono::seconds{60}};  ///< of the issue stores
  std::size_t max_open_stores = 0;  ///< 0: the registry's default
  /// What a request waits for each load it causes: a store never loaded
  /// before, and one loaded again after GC. Accounted, not simulated: it
  /// does not move the clock.
  std::chrono::microseconds cold_load_cost{3000};
  std::chrono::microseconds reload_cost{700};
  std::uint64_t seed = 1;
};

/// One virtual hour (or the whole run).
struct virtual_figures {
  std::uint64_t requests = 0;
  std::uint64_t cold_loads = 0;
  std::uint64_t reloads = 0;
  std::uint64_t disposals = 0;
  std::uint64_t evictions = 0;
  std::uint64_t commits = 0;
  std::uint64_t waited = 0;          ///< requests that caused at least one load
  std::uint64_t wait_us = 0;         ///< their summed load cost
  std::uint64_t wait_max_us = 0;
  std::size_t open_peak = 0;         ///< stores loading, active or inactive, after a request
  double open_mean = 0;              ///< mean of that over the requests
};

struct virtual_report {
  virtual_model model;
  std::vector<virtual_figures> hours;
  virtual_figures total;
  /// The deterministic report: model, hours and total (no wall-clock figure).
  nlohmann::json to_json() const;
};

/// Runs the model on a fresh fixture with memory stores.
virtual_report run_virtual(const virtual_model& model);

}  // namespace tenant_sim
