// tenant_sim --virtual's simulator: determinism, a model small enough to
// count by hand, and the two monotonic rules a sweep relies on.
#include <catch2/catch.hpp>

#include <chrono>

#include "virtual_sim.hpp"
#include "virtual_sweep.hpp"

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

TEST_CASE("one tenant every 10 s: loads and disposals count as by hand", "[simulation]") {
  virtual_model m;
  m.duration = 100s;
  m.tenants = 1;
  m.issues = 1;
  m.fixed_interval = 10s;  // sessions at 0, 10, ..., 90 s
  m.session_requests = 2;  // at arrival and 3 s later, then both stores are released
  m.think_time = 3s;
  m.write_share = 1;       // every request comments
  m.cold_load_cost = 3000us;
  m.reload_cost = 700us;

  m.gc_time = 6500ms;  // released at 3 s, gone at 9.5 s: before the next session
  auto shorter = run_virtual(m).total;
  CHECK(shorter.sessions == 10);
  CHECK(shorter.requests == 20);
  CHECK(shorter.commits == 20);
  CHECK(shorter.cold_loads == 2);  // the workspace (gc_never) and the issue, once each
  CHECK(shorter.reloads == 9);     // the issue, at 10, 20, ..., 90 s
  CHECK(shorter.disposals == 10);  // the issue, at 9.5, 19.5, ..., 99.5 s
  CHECK(shorter.waited == 10);
  CHECK(shorter.wait_us == 2 * 3000 + 9 * 700);
  CHECK(shorter.refused == 0);

  m.gc_time = 7500ms;  // gone at 10.5 s: the next session comes first
  auto longer = run_virtual(m).total;
  CHECK(longer.cold_loads == 2);
  CHECK(longer.reloads == 0);
  CHECK(longer.disposals == 0);  // the last release at 93 s would end at 100.5 s
  CHECK(longer.waited == 1);
  CHECK(longer.wait_us == 6000);
  CHECK(longer.open_peak == 2);

  m.write_share = 0;  // reads only
  CHECK(run_virtual(m).total.commits == 0);
}

TEST_CASE("a store a session holds is not disposed however short its gc_time", "[simulation]") {
  virtual_model m;
  m.duration = 100s;
  m.tenants = 1;
  m.issues = 1;
  m.fixed_interval = 10s;
  m.session_requests = 3;  // each session holds its stores for 12 s: the next one overlaps
  m.think_time = 6s;
  m.gc_time = 1s;
  auto total = run_virtual(m).total;
  CHECK(total.sessions == 10);
  CHECK(total.requests == 29);  // 9 sessions of 3, and the one at 90 s makes 2 before the end
  CHECK(total.cold_loads == 2);
  CHECK(total.reloads == 0);
  CHECK(total.disposals == 0);
  CHECK(total.active_peak == 2);
  CHECK(total.inactive_peak == 0);
}

TEST_CASE("a sweep of gc_time runs the same traffic and a longer gc_time never gives more loads",
          "[simulation]") {
  auto swept = tenant_sim::sweep_gc("1s,10s,60s,5m", small(0ms));
  REQUIRE(swept);
  REQUIRE(swept->models.size() == 4);
  CHECK(swept->models[3].gc_time == 300s);
  std::vector<tenant_sim::sweep_run> runs;
  std::uint64_t previous = UINT64_MAX;
  for (std::size_t i = 0; i < swept->models.size(); ++i) {
    runs.push_back({.value = swept->values[i], .report = run_virtual(swept->models[i])});
    const auto& total = runs.back().report.total;
    INFO("gc_time " << swept->values[i]);
    CHECK(total.sessions == runs.front().report.total.sessions);
    CHECK(total.requests == runs.front().report.total.requests);
    CHECK(total.cold_loads + total.reloads <= previous);
    previous = total.cold_loads + total.reloads;
  }
  CHECK(runs.front().report.total.reloads > runs.back().report.total.reloads);

  auto json = tenant_sim::sweep_json(*swept, runs);
  CHECK(json["sweep"] == "gc_time");
  REQUIRE(json["runs"].size() == 4);
  CHECK(json["runs"][1]["value"] == "10s");
  CHECK(json["runs"][1]["gc_time_ms"] == 10000);
  CHECK(json["runs"][2]["loads"] == runs[2].report.total.cold_loads + runs[2].report.total.reloads);

  auto svg = tenant_sim::svg_chart(swept->parameter, runs);
  CHECK(svg.rfind("<svg xmlns=", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  std::size_t lines = 0;
  for (auto at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1))
    ++lines;
  CHECK(lines == 2 * runs.size());  // one line per run in each of the two panels
  CHECK(svg.find("virtual time (hours)") != std::string::npos);
  CHECK(svg.find(">5m</text>") != std::string::npos);
}

TEST_CASE("the open-store limit is never exceeded under a sweep of limits", "[simulation]") {
  auto base = small(300s);
  base.duration = 30min;
  auto swept = tenant_sim::sweep_limit("5,20,60", base);
  REQUIRE(swept);
  std::uint64_t sessions = 0;
  for (const auto& m : swept->models) {
    auto report = run_virtual(m);
    INFO("limit " << m.max_open_stores);
    CHECK(report.total.open_peak <= m.max_open_stores);
    CHECK(report.total.requests > 0);
    if (sessions == 0)
      sessions = report.total.sessions;
    CHECK(report.total.sessions == sessions);  // the same traffic, refused or not
    if (m.max_open_stores == 5)
      CHECK(report.total.evictions > 0);
  }
}

TEST_CASE("bad sweep lists are refused with the value at fault", "[simulation]") {
  auto base = small(1s);
  for (const char* bad : {"", ",", "1s,", "1s,,2s", "1s,1s", "ten", "-5s", "1e400s", "nans", "5x"}) {
    INFO("--sweep-gc " << bad);
    auto r = tenant_sim::sweep_gc(bad, base);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("--sweep-gc") != std::string::npos);
  }
  CHECK(tenant_sim::sweep_gc("0,500ms,2h", base));
  for (const char* bad : {"", "0", "-1", "5x", "1.5", "5,5", "99999999999"}) {
    INFO("--sweep-limit " << bad);
    REQUIRE_FALSE(tenant_sim::sweep_limit(bad, base));
  }
  CHECK(tenant_sim::sweep_limit("1,100", base)->models[1].max_open_stores == 100);
}
