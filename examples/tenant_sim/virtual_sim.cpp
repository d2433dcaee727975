// The workload model on the deterministic fixture. One loop, one thread: the
// next event (a session's arrival or its next request) moves the virtual
// clock there, GC timers firing on the way, each at its own time. Every
// random number comes from the seed: arrivals, tenants, issues and each
// session's seed from one generator, drawn at arrival; a session's requests
// and think times from its own. So a model and a seed give one history.

#include "virtual_sim.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <random>
#include <utility>

#include <multistore/multistore.hpp>
#include <multistore/testing.hpp>

#include "schemas.hpp"
#include "zipf.hpp"

namespace tenant_sim {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::int64_t hour_us = 3'600'000'000LL;

std::int64_t to_us(milliseconds d) { return std::chrono::duration_cast<microseconds>(d).count(); }

/// Session arrivals in virtual microseconds: Poisson on the daily curve
/// (thinning: candidates at the curve's peak rate, each kept with the
/// hour's share of it), or fixed.
class arrivals {
 public:
  arrivals(const virtual_model& m, std::mt19937_64& rng) : m_(m), rng_(rng) {
    double mean = std::accumulate(m.daily_curve.begin(), m.daily_curve.end(), 0.0) / 24.0;
    double sessions_per_s = m.mean_rate / std::max(1, m.session_requests);
    for (std::size_t h = 0; h < 24; ++h)
      rate_[h] = mean > 0 ? sessions_per_s * m.daily_curve[h] / mean : 0;
    peak_ = *std::max_element(rate_.begin(), rate_.end());
  }

  /// The next arrival after the last one.
  std::int64_t next() {
    if (m_.fixed_interval.count() > 0) {
      auto at = first_ ? 0 : now_ + to_us(m_.fixed_interval);
      first_ = false;
      return now_ = at;
    }
    if (peak_ <= 0)
      return now_ = INT64_MAX;
    std::exponential_distribution<double> gap{peak_ / 1e6};
    std::uniform_real_distribution<double> keep{0.0, 1.0};
    for (;;) {
      now_ += std::max<std::int64_t>(1, static_cast<std::int64_t>(gap(rng_)));
      auto hour = static_cast<std::size_t>((now_ / hour_us) % 24);
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

/// A session's own random numbers (SplitMix64), seeded at its arrival, so
/// what a session does never shifts what later sessions do: every run of
/// one model and seed sees the same traffic, whatever its gc_time or limit.
struct session_rng {
  using result_type = std::uint64_t;
  std::uint64_t state = 0;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return UINT64_MAX; }
  result_type operator()() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

/// A client between its arrival and its last request: it holds both stores.
struct session {
  multistore::store_handle<workspace_schema> workspace;
  multistore::store_handle<issue_schema> issue;
  int left = 0;  ///< requests still to make
  session_rng rng;
};

/// A session's next request: the earliest first, ties in order of scheduling.
struct due {
  std::int64_t at = 0;
  std::uint64_t order = 0;
  std::size_t slot = 0;
  bool operator>(const due& o) const { return at != o.at ? at > o.at : order > o.order; }
};

/// Sums of a period that become means when it closes.
struct samples {
  double open = 0, active = 0, inactive = 0;
};

void sample(virtual_figures& f, samples& s, const multistore::registry_stats& now) {
  std::size_t open = now.loading + now.active + now.inactive;
  f.open_peak = std::max(f.open_peak, open);
  f.active_peak = std::max(f.active_peak, now.active);
  f.inactive_peak = std::max(f.inactive_peak, now.inactive);
  s.open += static_cast<double>(open);
  s.active += static_cast<double>(now.active);
  s.inactive += static_cast<double>(now.inactive);
}

void finish_means(virtual_figures& f, const samples& s) {
  double n = static_cast<double>(f.sessions);
  f.open_mean = n > 0 ? s.open / n : 0;
  f.active_mean = n > 0 ? s.active / n : 0;
  f.inactive_mean = n > 0 ? s.inactive / n : 0;
}

void add(virtual_figures& into, const virtual_figures& p) {
  into.sessions += p.sessions;
  into.requests += p.requests;
  into.refused += p.refused;
  into.cold_loads += p.cold_loads;
  into.reloads += p.reloads;
  into.disposals += p.disposals;
  into.evictions += p.evictions;
  into.commits += p.commits;
  into.waited += p.waited;
  into.wait_us += p.wait_us;
  into.wait_max_us = std::max(into.wait_max_us, p.wait_max_us);
  into.open_peak = std::max(into.open_peak, p.open_peak);
  into.active_peak = std::max(into.active_peak, p.active_peak);
  into.inactive_peak = std::max(into.inactive_peak, p.inactive_peak);
}

/// One period being counted (an hour or a chart bucket).
struct period {
  std::int64_t end_us = 0;
  virtual_figures figures;
  samples sums;
};

double round_to(double x, double step) { return std::round(x / step) * step; }

}  // namespace

nlohmann::json figures_json(const virtual_figures& f, const virtual_model& m) {
  // Estimates from the per-store figures of the model (see virtual_model).
  auto kib = m.store_kib();
  auto fds = m.store_fds();
  return {{"sessions", f.sessions},
          {"requests", f.requests},
          {"refused", f.refused},
          {"cold_loads", f.cold_loads},
          {"reloads", f.reloads},
          {"loads", f.cold_loads + f.reloads},
          {"disposals", f.disposals},
          {"evictions", f.evictions},
          {"commits", f.commits},
          {"waited", f.waited},
          {"wait_us", f.wait_us},
          {"wait_max_us", f.wait_max_us},
          {"open_peak", f.open_peak},
          {"open_mean", round_to(f.open_mean, 0.001)},
          {"active_peak", f.active_peak},
          {"active_mean", round_to(f.active_mean, 0.001)},
          {"inactive_peak", f.inactive_peak},
          {"inactive_mean", round_to(f.inactive_mean, 0.001)},
          {"est_descriptors_peak", f.open_peak * static_cast<std::size_t>(fds)},
          {"est_memory_peak_mib", round_to(static_cast<double>(f.open_peak) * kib / 1024.0, 0.01)}};
}

nlohmann::json virtual_report::to_json() const {
  const auto& m = model;
  auto list = [&](const std::vector<virtual_figures>& periods) {
    auto out = nlohmann::json::array();
    for (const auto& p : periods)
      out.push_back(figures_json(p, m));
    return out;
  };
  return {{"model",
           {{"duration_ms", m.duration.count()},
            {"tenants", m.tenants},
            {"issues", m.issues},
            {"zipf_exponent", m.zipf_exponent},
            {"mean_rate", m.mean_rate},
            {"daily_curve", m.daily_curve},
            {"fixed_interval_ms", m.fixed_interval.count()},
            {"session_requests", m.session_requests},
            {"think_time_ms", m.think_time.count()},
            {"write_share", m.write_share},
            {"list_share", m.list_share},
            {"gc_time_ms", m.gc_time.count()},
            {"max_open_stores", m.max_open_stores},
            {"cold_load_cost_us", m.cold_load_cost.count()},
            {"reload_cost_us", m.reload_cost.count()},
            {"storage", m.data.empty() ? "memory" : "files"},
            {"store_kib", m.store_kib()},
            {"store_descriptors", m.store_fds()},
            {"seed", m.seed}}},
          {"hours", list(hours)},
          {"bucket_ms", bucket.count()},
          {"buckets", list(buckets)},
          {"total", figures_json(total, m)}};
}

virtual_report run_virtual(const virtual_model& m) {
  multistore::register_schema<workspace_schema>();
  multistore::register_schema<issue_schema>();
  multistore::registry_options ro;
  if (m.max_open_stores > 0)
    ro.max_open_stores = m.max_open_stores;
  multistore::adapter storage = multistore::memory_adapter{};
  if (!m.data.empty())
    storage = multistore::sqlite_adapter{.directory = m.data};
  multistore::testing::fixture fx{ro};
  std::mt19937_64 rng{m.seed};
  arrivals next_arrival{m, rng};
  zipf pick_tenant{m.tenants, m.zipf_exponent};
  zipf pick_issue{m.issues, m.zipf_exponent};
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  std::exponential_distribution<double> think{
      m.think_time.count() > 0 ? 1.0 / static_cast<double>(to_us(m.think_time)) : 1.0};
  // Whether a store was ever loaded: workspace t at t, issue i of tenant t
  // at tenants + t * issues + i.
  std::vector<std::uint8_t> loaded_before(
      static_cast<std::size_t>(m.tenants) * static_cast<std::size_t>(m.issues + 1), 0);

  virtual_report report{.model = m, .hours = {}, .bucket = {}, .buckets = {}, .total = {}};
  const std::int64_t end_us = to_us(m.duration);
  // About 96 chart points, on whole seconds.
  report.bucket = std::max(milliseconds{1000},
                           milliseconds{m.duration.count() / 96 / 1000 * 1000});
  const std::int64_t bucket_us = to_us(report.bucket);
  period hour{.end_us = std::min(hour_us, end_us), .figures = {}, .sums = {}};
  period bucket{.end_us = std::min(bucket_us, end_us), .figures = {}, .sums = {}};
  auto last = fx.stats();
  samples total_sums;

  // Moves the clock to `at_us`, closing each hour and bucket that ends on
  // the way; GC and eviction figures come from the registry's counters.
  auto advance_to = [&](std::int64_t at_us) {
    for (;;) {
      std::int64_t boundary = std::min(hour.end_us, bucket.end_us);
      if (boundary > at_us)
        break;
      fx.advance(milliseconds{boundary / 1000} - fx.elapsed());
      auto now = fx.stats();
      for (period* p : {&hour, &bucket}) {
        p->figures.disposals += now.disposals - last.disposals;
        p->figures.evictions += now.evictions - last.evictions;
      }
      last.disposals = now.disposals;
      last.evictions = now.evictions;
      auto close = [&](period& p, std::vector<virtual_figures>& into, std::int64_t length) {
        if (p.end_us != boundary)
          return;
        finish_means(p.figures, p.sums);
        into.push_back(p.figures);
        p = {.end_us = std::min(boundary + length, end_us), .figures = {}, .sums = {}};
      };
      if (hour.end_us == boundary) {
        add(report.total, hour.figures);
        total_sums.open += hour.sums.open;
        total_sums.active += hour.sums.active;
        total_sums.inactive += hour.sums.inactive;
      }
      close(hour, report.hours, hour_us);
      close(bucket, report.buckets, bucket_us);
      if (boundary >= end_us)
        return;
    }
    fx.advance(milliseconds{at_us / 1000} - fx.elapsed());
  };

  // Counts into the open hour and bucket.
  auto count = [&](auto&& f) {
    f(hour.figures);
    f(bucket.figures);
  };

  // A load the last use caused, if any: counted and costed. `now` is the
  // registry's figures after that use.
  auto load_cost = [&](std::size_t store, const multistore::registry_stats& now) -> std::uint64_t {
    bool loaded = now.loads != last.loads;
    last.loads = now.loads;
    if (!loaded)
      return 0;
    if (std::exchange(loaded_before[store], 1) == 0) {
      count([](virtual_figures& f) { ++f.cold_loads; });
      return static_cast<std::uint64_t>(m.cold_load_cost.count());
    }
    count([](virtual_figures& f) { ++f.reloads; });
    return static_cast<std::uint64_t>(m.reload_cost.count());
  };

  // One request of a session: a comment, a list of the workspace or a read.
  auto request = [&](session& s) {
    double u = unit(s.rng);
    if (u < m.write_share) {
      s.issue.commit(comment_added{"sim", "a comment"});
      count([](virtual_figures& f) { ++f.commits; });
    } else if ((u - m.write_share) < (1.0 - m.write_share) * m.list_share) {
      (void)s.workspace.query(
          "SELECT issue_id, title FROM issue_index ORDER BY rowid DESC LIMIT 20");
    } else {
      (void)s.issue.query(
          "SELECT author, text FROM comments ORDER BY rowid DESC LIMIT 10");  // the latest
    }
    count([](virtual_figures& f) { ++f.requests; });
    --s.left;
  };

  std::vector<session> sessions;
  std::vector<std::size_t> free_slots;
  std::priority_queue<due, std::vector<due>, std::greater<>> pending;
  std::uint64_t order = 0;
  auto think_us = [&](session& s) -> std::int64_t {
    if (m.fixed_interval.count() > 0 || m.think_time.count() == 0)
      return to_us(m.think_time);
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(think(s.rng)));
  };
  // Schedules the session's next request, or ends it.
  auto go_on = [&](std::size_t slot, std::int64_t now_us) {
    session& s = sessions[slot];
    if (s.left > 0) {
      pending.push({.at = now_us + think_us(s), .order = order++, .slot = slot});
      return;
    }
    s = session{};  // releases both stores
    free_slots.push_back(slot);
  };

  // A session arrives: it uses its two stores and makes its first request.
  auto arrive = [&](std::int64_t now_us) {
    auto t = pick_tenant(rng);
    auto i = pick_issue(rng);
    const auto ws_store = static_cast<std::size_t>(t);
    const auto issue_store = static_cast<std::size_t>(m.tenants)
                             + static_cast<std::size_t>(t) * static_cast<std::size_t>(m.issues)
                             + static_cast<std::size_t>(i);
    std::string ws_id = "workspace-" + std::to_string(t);
    std::string issue_id = "ws" + std::to_string(t) + "-issue-" + std::to_string(i);
    count([](virtual_figures& f) { ++f.sessions; });
    session s{.workspace = {}, .issue = {}, .left = std::max(1, m.session_requests),
              .rng = {.state = rng()}};
    std::uint64_t wait = 0;
    try {
      s.workspace = fx.use(multistore::store_options<workspace_schema>{
          .store_id = ws_id, .storage = storage, .gc_time = multistore::gc_never});
      wait += load_cost(ws_store, fx.stats());
      s.issue = fx.use(multistore::store_options<issue_schema>{
          .store_id = issue_id, .storage = storage, .gc_time = m.gc_time});
    } catch (const multistore::store_error&) {
      // The open-store limit with every open store in use: the session is
      // refused (a use the workspace answered released its store with `s`).
      last.loads = fx.stats().loads;
      count([](virtual_figures& f) { ++f.refused; });
      return;
    }
    auto now = fx.stats();
    wait += load_cost(issue_store, now);
    count([&](virtual_figures& f) {
      if (wait > 0) {
        ++f.waited;
        f.wait_us += wait;
        f.wait_max_us = std::max(f.wait_max_us, wait);
      }
    });
    sample(hour.figures, hour.sums, now);
    sample(bucket.figures, bucket.sums, now);
    request(s);
    std::size_t slot;
    if (free_slots.empty()) {
      slot = sessions.size();
      sessions.push_back(std::move(s));
    } else {
      slot = free_slots.back();
      free_slots.pop_back();
      sessions[slot] = std::move(s);
    }
    go_on(slot, now_us);
  };

  std::int64_t arrival = next_arrival.next();
  for (;;) {
    bool take_request = !pending.empty() && pending.top().at <= arrival;
    std::int64_t at = take_request ? pending.top().at : arrival;
    if (at >= end_us)
      break;
    advance_to(at);
    if (take_request) {
      auto slot = pending.top().slot;
      pending.pop();
      request(sessions[slot]);
      go_on(slot, at);
    } else {
      arrive(at);
      arrival = next_arrival.next();
    }
  }
  // Sessions still running at the end release their stores now; their GC
  // belongs to no hour of the run.
  advance_to(end_us);
  sessions.clear();
  finish_means(report.total, total_sums);
  return report;
}

}  // namespace tenant_sim
