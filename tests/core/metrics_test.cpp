// The metrics text and the lifecycle machine's listing: pure, no CAF.

#include <catch2/catch.hpp>

#include "multistore/lifecycle.hpp"
#include "multistore/metrics.hpp"
#include "prometheus_text.hpp"

using namespace std::chrono_literals;
using namespace multistore;

TEST_CASE("metrics render as valid exposition text with every family") {
  registry_stats stats;
  stats.loading = 1;
  stats.active = 2;
  stats.loads = 7;
  stats.disposals = 4;
  registry_metrics m;
  m.commits = 5;
  m.events_committed = 9;
  m.pending_commits = 3;
  m.commit_latency.record(50us);    // first bucket
  m.commit_latency.record(3ms);     // 0.005
  m.commit_latency.record(20s);     // +Inf only
  auto text = render_prometheus(stats, m, process_figures{12, 4096});
  auto x = prometheus_text::parse(text);

  for (const char* family :
       {"multistore_stores", "multistore_loads_total", "multistore_load_failures_total",
        "multistore_disposals_total", "multistore_evictions_total", "multistore_commits_total",
        "multistore_events_committed_total", "multistore_overloaded_commits_total",
        "multistore_pending_commits", "multistore_waiting_calls", "multistore_gc_timers",
        "multistore_acquire_latency_seconds", "multistore_commit_latency_seconds",
        "multistore_open_file_descriptors", "multistore_resident_memory_bytes"}) {
    INFO(family);
    CHECK(x.types.count(family) == 1);
    CHECK(x.help.count(family) == 1);
  }
  CHECK(x.value("multistore_stores", {{"phase", "loading"}}) == 1);
  CHECK(x.value("multistore_stores", {{"phase", "active"}}) == 2);
  CHECK(x.value("multistore_loads_total") == 7);
  CHECK(x.value("multistore_disposals_total") == 4);
  CHECK(x.value("multistore_commits_total") == 5);
  CHECK(x.value("multistore_events_committed_total") == 9);
  CHECK(x.value("multistore_pending_commits") == 3);
  CHECK(x.value("multistore_open_file_descriptors") == 12);
  CHECK(x.value("multistore_resident_memory_bytes") == 4096);
  CHECK(x.value("multistore_commit_latency_seconds_count") == 3);
  CHECK(x.value("multistore_commit_latency_seconds_bucket", {{"le", "0.0001"}}) == 1);
  CHECK(x.value("multistore_commit_latency_seconds_bucket", {{"le", "0.005"}}) == 2);
  CHECK(x.value("multistore_commit_latency_seconds_bucket", {{"le", "10"}}) == 2);
  CHECK(x.value("multistore_commit_latency_seconds_bucket", {{"le", "+Inf"}}) == 3);
  CHECK(x.value("multistore_commit_latency_seconds_sum") == Approx(20.00305));
  CHECK(x.value("multistore_acquire_latency_seconds_count") == 0);
  // No series carries a store id.
  for (const auto& s : x.samples)
    for (const auto& [label, value] : s.labels)
      CHECK((label == "phase" || label == "le"));
}

TEST_CASE("the exposition reader refuses what is not exposition text") {
  CHECK_THROWS(prometheus_text::parse("multistore_x 1\n"));  // no TYPE
  CHECK_THROWS(prometheus_text::parse("# TYPE a counter\na 1\n"));  // counter without _total
  CHECK_THROWS(prometheus_text::parse("# TYPE a gauge\na one\n"));
  CHECK_THROWS(prometheus_text::parse("# TYPE a gauge\na{x=1} 1\n"));
  CHECK_THROWS(prometheus_text::parse(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n"));
  CHECK_THROWS(prometheus_text::parse("# TYPE a gauge\na 1"));  // no final newline
  CHECK_NOTHROW(prometheus_text::parse("# HELP a x\n# TYPE a gauge\na{b=\"c\",d=\"e\"} 1.5\n"));
}

TEST_CASE("a histogram puts a duration in the first bucket whose bound holds it") {
  latency_histogram h;
  h.record(100us);   // exactly on the first bound
  h.record(101us);
  h.record(-1ms);    // a clock going back counts as 0
  auto s = h.read();
  CHECK(s.counts[0] == 2);
  CHECK(s.counts[1] == 1);
  CHECK(s.count == 3);
}

TEST_CASE("the machine lists the ids it holds with their phase and loaded instance") {
  lifecycle::machine m;
  lifecycle::instance_id instance = 0;
  for (const auto& e : m.handle(lifecycle::acquire{1, "b-store", "issue", 1, 10s}, 0ms))
    if (auto* load = std::get_if<lifecycle::start_load>(&e))
      instance = load->instance;
  REQUIRE(instance != 0);
  (void)m.handle(lifecycle::preload{2, "a-store", "notes", 5s}, 0ms);

  auto listed = m.list(0ms);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].store_id == "a-store");  // sorted by id
  CHECK(listed[0].schema == "notes");
  CHECK(listed[0].info.state == store_state::loading);
  CHECK(listed[0].instance == 0);
  CHECK(m.loaded_instance("b-store") == 0);  // still loading

  lifecycle::lease_id lease = 0;
  for (const auto& e : m.handle(lifecycle::load_succeeded{"b-store", instance}, 1ms))
    if (auto* ready = std::get_if<lifecycle::answer_ready>(&e))
      lease = ready->lease;
  REQUIRE(lease != 0);
  CHECK(m.loaded_instance("b-store") == instance);
  std::uint64_t generation = 0;
  for (const auto& e : m.handle(lifecycle::release{lease}, 2ms))
    if (auto* timer = std::get_if<lifecycle::arm_timer>(&e))
      generation = timer->generation;
  REQUIRE(generation != 0);
  listed = m.list(3ms);
  REQUIRE(listed.size() == 2);
  CHECK(listed[1].store_id == "b-store");
  CHECK(listed[1].info.state == store_state::inactive);
  CHECK(listed[1].instance == instance);
  REQUIRE(listed[1].info.gc_remaining);
  CHECK(*listed[1].info.gc_remaining == 9999ms);
  auto one = m.listed("b-store", 3ms);  // one row, the same as the list's
  REQUIRE(one);
  CHECK(one->store_id == "b-store");
  CHECK(one->instance == instance);
  CHECK(one->info.gc_remaining == listed[1].info.gc_remaining);

  bool stopped = false;
  for (const auto& e : m.handle(lifecycle::gc_fired{"b-store", generation}, 10002ms))
    if (auto* stop = std::get_if<lifecycle::stop_store>(&e))
      stopped = stop->instance == instance;
  CHECK(stopped);
  // Closing with nobody waiting: not listed, not loaded.
  CHECK(m.loaded_instance("b-store") == 0);
  CHECK(m.list(10003ms).size() == 1);
  CHECK_FALSE(m.listed("b-store", 10003ms));
  CHECK(m.listed("a-store", 10003ms));
  CHECK(m.loaded_instance("never-seen") == 0);
  CHECK_FALSE(m.listed("never-seen", 10003ms));
}
