// tenant_sim --virtual's simulator: determinism, a model small enough to
// count by hand, and the two monotonic rules a sweep relies on.
#include <catch2/catch.hpp>

#include <chrono>

#include "virtual_sim.hpp"

using namespace std::chrono_literals;
using tenant_sim::run_virtual;
using tenant_sim::virtual_model;

namespace {

virtual_model small(std::chrono::milliseconds gc_time) {
  virtual_model m;
  m.duration = 2h;
  m.tenants = 20;
  m.issues = 10;
  m.mean_rate = 2;
  m.gc_time = gc_time;
  m.seed = 7;
  return m;
}

}  // namespace

TEST_CASE("the same model and seed give the same report", "[simulation]") {
  auto a = run_virtual(small(30s)).to_json();
  auto b = run_virtual(small(30s)).to_json();
  CHECK(a.dump() == b.dump());
  CHECK(a["hours"].size() == 2);
  // Hours 0 and 1 of the daily curve run at 0.3 and 0.2 of its mean (0.992):
  // 2/s × 3 600 s × (0.3 + 0.2) / 0.992 = 3 630 requests expected.
  CHECK(a["total"]["requests"].get<double>() == Approx(3630).epsilon(0.05));
  auto other = small(30s);
  other.seed = 8;
  CHECK(run_virtual(other).to_json()["total"] != a["total"]);
}

TEST_CASE("one tenant asked every 10 s: loads and disposals count as by hand", "[simulation]") {
  virtual_model m;
  m.duration = 100s;
  m.tenants = 1;
  m.issues = 1;
  m.fixed_interval = 10s;  // requests at 0, 10, ..., 90 s
  m.cold_load_cost = 3000us;
  m.reload_cost = 700us;

  m.gc_time = 9s;  // the issue store is gone before the next request
  auto shorter = run_virtual(m).total;
  CHECK(shorter.requests == 10);
  CHECK(shorter.cold_loads == 2);  // the workspace (gc_never) and the issue, once each
  CHECK(shorter.reloads == 9);     // the issue, at 10, 20, ..., 90 s
  CHECK(shorter.disposals == 10);  // the issue, 9 s after each request
  CHECK(shorter.waited == 10);
  CHECK(shorter.wait_us == 2 * 3000 + 9 * 700);
  CHECK(shorter.commits == 10);

  m.gc_time = 11s;  // the next request comes first
  auto longer = run_virtual(m).total;
  CHECK(longer.cold_loads == 2);
  CHECK(longer.reloads == 0);
  CHECK(longer.disposals == 0);  // the last release at 90 s would end at 101 s
  CHECK(longer.waited == 1);
  CHECK(longer.wait_us == 6000);
  CHECK(longer.open_peak == 2);
}

TEST_CASE("a longer gc_time never gives more loads", "[simulation]") {
  std::uint64_t previous = UINT64_MAX;
  for (auto gc : {1000ms, 10000ms, 60000ms, 300000ms}) {
    auto total = run_virtual(small(gc)).total;
    INFO("gc_time " << gc.count() << " ms");
    CHECK(total.cold_loads + total.reloads <= previous);
    previous = total.cold_loads + total.reloads;
  }
}

TEST_CASE("the open-store limit is never exceeded under a sweep of limits", "[simulation]") {
  for (std::size_t limit : {std::size_t{5}, std::size_t{20}, std::size_t{60}}) {
    auto m = small(300s);
    m.duration = 30min;
    m.max_open_stores = limit;
    auto report = run_virtual(m);
    INFO("limit " << limit);
    CHECK(report.total.open_peak <= limit);
    CHECK(report.total.requests > 0);
    if (limit == 5)
      CHECK(report.total.evictions > 0);
  }
}
