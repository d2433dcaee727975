// The workload model on the deterministic fixture. One loop, one thread:
// each request's arrival moves the virtual clock there (GC timers fire on
// the way, each at its own time), then the request uses its tenant's
// workspace store and one issue store, commits one event, reads, and
// releases both. Every random number comes from one seeded generator.

#include "virtual_sim.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <unordered_set>

#include <multistore/multistore.hpp>
#include <multistore/testing.hpp>

#include "schemas.hpp"
#include "zipf.hpp"

namespace tenant_sim {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

/// Request arrivals in virtual microseconds: Poisson on the daily curve
/// (thinning: candidates at the curve's peak rate, each kept with the
/// hour's share of it), or fixed.
class arrivals {
 public:
  arrivals(const virtual_model& m, std::mt19937_64& rng) : m_(m), rng_(rng) {
    double mean = std::accumulate(m.daily_curve.begin(), m.daily_curve.end(), 0.0) / 24.0;
    for (std::size_t h = 0; h < 24; ++h)
      rate_[h] = m.mean_rate * m.daily_curve[h] / mean;
    peak_ = *std::max_element(rate_.begin(), rate_.end());
  }

  /// The next arrival after `now_us`.
  std::int64_t next() {
    if (m_.fixed_interval.count() > 0) {
      auto at = first_ ? 0 : now_ + std::chrono::duration_cast<microseconds>(m_.fixed_interval).count();
      first_ = false;
      return now_ = at;
    }
    if (peak_ <= 0)
      return now_ = INT64_MAX;
    std::exponential_distribution<double> gap{peak_ / 1e6};
    std::uniform_real_distribution<double> keep{0.0, 1.0};
    for (;;) {
      now_ += std::max<std::int64_t>(1, static_cast<std::int64_t>(gap(rng_)));
      auto hour = static_cast<std::size_t>((now_ / 3'600'000'000LL) % 24);
      if (keep(rng_) * peak_ < rate_[hour])
        return now_;
    }
  }

 private:
  const virtual_model& m_;
  std::mt19937_64& rng_;
  std::array<double, 24> rate_{};
  double peak_ = 0;
  std::int64_t now_ = 0;
  bool first_ = true;
};

std::size_t open_stores(const multistore::registry_stats& s) {
  return s.loading + s.active + s.inactive;
}

void add(virtual_figures& into, const virtual_figures& h) {
  into.requests += h.requests;
  into.cold_loads += h.cold_loads;
  into.reloads += h.reloads;
  into.disposals += h.disposals;
  into.evictions += h.evictions;
  into.commits += h.commits;
  into.waited += h.waited;
  into.wait_us += h.wait_us;
  into.wait_max_us = std::max(into.wait_max_us, h.wait_max_us);
  into.open_peak = std::max(into.open_peak, h.open_peak);
}

nlohmann::json figures_json(const virtual_figures& f) {
  return {{"requests", f.requests},   {"cold_loads", f.cold_loads}, {"reloads", f.reloads},
          {"loads", f.cold_loads + f.reloads},
          {"disposals", f.disposals}, {"evictions", f.evictions},   {"commits", f.commits},
          {"waited", f.waited},       {"wait_us", f.wait_us},       {"wait_max_us", f.wait_max_us},
          {"open_peak", f.open_peak}, {"open_mean", f.open_mean}};
}

}  // namespace

nlohmann::json virtual_report::to_json() const {
  auto hours_json = nlohmann::json::array();
  for (const auto& h : hours)
    hours_json.push_back(figures_json(h));
  const auto& m = model;
  return {{"model",
           {{"duration_ms", m.duration.count()},
            {"tenants", m.tenants},
            {"issues", m.issues},
            {"zipf_exponent", m.zipf_exponent},
            {"mean_rate", m.mean_rate},
            {"daily_curve", m.daily_curve},
            {"fixed_interval_ms", m.fixed_interval.count()},
            {"gc_time_ms", m.gc_time.count()},
            {"max_open_stores", m.max_open_stores},
            {"cold_load_cost_us", m.cold_load_cost.count()},
            {"reload_cost_us", m.reload_cost.count()},
            {"seed", m.seed}}},
          {"hours", std::move(hours_json)},
          {"total", figures_json(total)}};
}

virtual_report run_virtual(const virtual_model& m) {
  multistore::register_schema<workspace_schema>();
  multistore::register_schema<issue_schema>();
  multistore::registry_options ro;
  if (m.max_open_stores > 0)
    ro.max_open_stores = m.max_open_stores;
  multistore::testing::fixture fx{ro};
  std::mt19937_64 rng{m.seed};
  arrivals next{m, rng};
  zipf pick_tenant{m.tenants, m.zipf_exponent};
  zipf pick_issue{m.issues, m.zipf_exponent};
  std::unordered_set<std::string> loaded_before;

  virtual_report report{.model = m, .hours = {}, .total = {}};
  const auto end_us = std::chrono::duration_cast<microseconds>(m.duration).count();
  const std::int64_t hour_us = 3'600'000'000LL;
  virtual_figures hour;
  double open_sum = 0;
  auto last = fx.stats();
  std::int64_t hour_start = 0;

  // Closes the hour that ends at `until_us`: GC and eviction figures come
  // from the registry's counters.
  auto close_hour = [&](std::int64_t until_us) {
    fx.advance(milliseconds{until_us / 1000} - fx.elapsed());
    auto now = fx.stats();
    hour.disposals = now.disposals - last.disposals;
    hour.evictions = now.evictions - last.evictions;
    hour.open_mean = hour.requests > 0 ? open_sum / static_cast<double>(hour.requests) : 0;
    add(report.total, hour);
    report.hours.push_back(hour);
    last = now;
    hour = {};
    open_sum = 0;
  };

  // One store of a request: its load, if it causes one, is counted and costed.
  auto load_cost = [&](const std::string& id) -> std::int64_t {
    if (fx.inspect(id).state != multistore::store_state::disposed)
      return 0;
    if (loaded_before.insert(id).second) {
      ++hour.cold_loads;
      return m.cold_load_cost.count();
    }
    ++hour.reloads;
    return m.reload_cost.count();
  };

  for (auto at = next.next(); at < end_us; at = next.next()) {
    while (at >= hour_start + hour_us) {
      close_hour(hour_start + hour_us);
      hour_start += hour_us;
    }
    fx.advance(milliseconds{at / 1000} - fx.elapsed());
    auto t = pick_tenant(rng);
    auto i = pick_issue(rng);
    std::string ws_id = "workspace-" + std::to_string(t);
    std::string issue_id = "ws" + std::to_string(t) + "-issue-" + std::to_string(i);
    auto wait = load_cost(ws_id) + load_cost(issue_id);
    {
      auto ws = fx.use(multistore::store_options<workspace_schema>{
          .store_id = ws_id, .storage = multistore::memory_adapter{}, .gc_time = multistore::gc_never});
      auto issue = fx.use(multistore::store_options<issue_schema>{
          .store_id = issue_id, .storage = multistore::memory_adapter{}, .gc_time = m.gc_time});
      issue.commit(comment_added{"sim", "request " + std::to_string(hour.requests)});
      ++hour.commits;
      (void)issue.query("SELECT count(*) AS n FROM comments");
    }
    ++hour.requests;
    if (wait > 0) {
      ++hour.waited;
      hour.wait_us += static_cast<std::uint64_t>(wait);
      hour.wait_max_us = std::max(hour.wait_max_us, static_cast<std::uint64_t>(wait));
    }
    auto open = open_stores(fx.stats());
    hour.open_peak = std::max(hour.open_peak, open);
    open_sum += static_cast<double>(open);
  }
  while (hour_start < end_us) {
    auto until = std::min(hour_start + hour_us, end_us);
    close_hour(until);
    hour_start += hour_us;
  }
  double weighted = 0;
  for (const auto& h : report.hours)
    weighted += h.open_mean * static_cast<double>(h.requests);
  report.total.open_mean =
      report.total.requests > 0 ? weighted / static_cast<double>(report.total.requests) : 0;
  return report;
}

}  // namespace tenant_sim
