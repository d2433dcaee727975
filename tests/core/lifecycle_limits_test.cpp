// The open-store limit and the bounded id history of the lifecycle machine.

#include <catch2/catch.hpp>

#include <string>

#include "lifecycle_rig.hpp"

using namespace lifecycle_testing;

namespace {

/// Loads `id` and releases it at once: an inactive store on its GC timer.
lc::instance_id load_inactive(rig& r, const std::string& id, gc_duration gc = 60s) {
  auto held = r.use(id, gc);
  r.release(held.lease);
  REQUIRE(r.info(id).state == store_state::inactive);
  return held.instance;
}

}  // namespace

TEST_CASE("a load under the open-store limit starts at once", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  r.use("a");
  auto fx = r.acquire("b");
  CHECK(count<lc::start_load>(fx) == 1);
  CHECK(count<lc::stop_store>(fx) == 0);
  CHECK(r.m.stats().queued == 0);
}

TEST_CASE("a load at the limit disposes the least recently used inactive store first",
          "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  const auto a = load_inactive(r, "a");
  r.now += 1s;
  load_inactive(r, "b");

  auto fx = r.acquire("c");
  auto stop = one<lc::stop_store>(fx);
  CHECK(stop.store_id == "a");
  CHECK(stop.instance == a);
  CHECK(count<lc::start_load>(fx) == 0);  // waits for a's file to close
  CHECK(r.info("c").state == store_state::loading);
  CHECK(r.m.stats().queued == 1);
  CHECK(r.m.stats().evictions == 1);

  fx = r.down("a", a);
  auto start = one<lc::start_load>(fx);
  CHECK(start.store_id == "c");
  CHECK(start.options_of == r.last);
  fx = r.loaded("c", start.instance);
  CHECK(count<lc::answer_ready>(fx) == 1);
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.info("b").state == store_state::inactive);
  CHECK(r.info("c").state == store_state::active);
  CHECK(r.m.stats().queued == 0);
}

TEST_CASE("releasing a store makes it the most recently used", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  auto a = r.use("a");
  load_inactive(r, "b");
  r.release(a.lease);  // a left after b: b is now the least recently used

  auto stop = one<lc::stop_store>(r.acquire("c"));
  CHECK(stop.store_id == "b");
}

TEST_CASE("a preload makes an inactive store the most recently used", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  load_inactive(r, "a");
  load_inactive(r, "b");
  auto fx = r.preload("a");
  CHECK(count<lc::answer_ready>(fx) == 1);

  auto stop = one<lc::stop_store>(r.acquire("c"));
  CHECK(stop.store_id == "b");
}

TEST_CASE("re-acquiring an inactive store takes it off the eviction list", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  load_inactive(r, "a");
  load_inactive(r, "b");
  r.use("a");  // active again

  auto stop = one<lc::stop_store>(r.acquire("c"));
  CHECK(stop.store_id == "b");
}

TEST_CASE("inactive gc_never stores are evicted too and reload on the next use",
          "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  const auto root = load_inactive(r, "root", gc_never);
  auto fx = r.acquire("issue");
  CHECK(one<lc::stop_store>(fx).store_id == "root");
  fx = r.down("root", root);
  const auto issue = one<lc::start_load>(fx).instance;
  fx = r.loaded("issue", issue);
  const auto lease = one<lc::answer_ready>(fx).lease;
  r.release(lease);

  fx = r.acquire("root", gc_never);
  CHECK(one<lc::stop_store>(fx).store_id == "issue");
  fx = r.down("issue", issue);
  CHECK(one<lc::start_load>(fx).store_id == "root");
  CHECK(r.info("root").loads == 2);
}

TEST_CASE("a load at the limit fails with load_failed when every open store is observed",
          "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 2}};
  auto a = r.use("a");
  r.use("b");

  auto fx = r.acquire("c");
  auto err = one<lc::answer_error>(fx);
  CHECK(err.request == r.last);
  CHECK(err.reason.code == errc::load_failed);
  CHECK_THAT(err.reason.message, Catch::Contains("'c'") && Catch::Contains("limit of 2")
                                     && Catch::Contains("max_open_stores"));
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(count<lc::stop_store>(fx) == 0);
  CHECK(r.info("c").state == store_state::disposed);
  CHECK(r.info("c").loads == 0);
  auto s = r.m.stats();
  CHECK(s.leases == 2);
  CHECK(s.waiting == 0);
  CHECK(s.queued == 0);
  CHECK(s.load_failures == 1);
  CHECK(r.info("a").state == store_state::active);

  SECTION("and succeeds once a store is released") {
    r.release(a.lease);
    fx = r.acquire("c");
    CHECK(one<lc::stop_store>(fx).store_id == "a");
    fx = r.down("a", a.instance);
    CHECK(one<lc::start_load>(fx).store_id == "c");
  }
}

TEST_CASE("a loading store counts against the limit", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  r.acquire("a");  // loading, never finished
  auto err = one<lc::answer_error>(r.acquire("b"));
  CHECK(err.reason.code == errc::load_failed);
}

TEST_CASE("a load at the limit waits for a store that is already closing",
          "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  auto a = r.use("a", 0ms);
  auto fx = r.release(a.lease);  // gc_time 0: closing at once
  CHECK(one<lc::stop_store>(fx).store_id == "a");

  fx = r.acquire("b");
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(count<lc::answer_error>(fx) == 0);
  CHECK(r.m.stats().evictions == 0);
  fx = r.down("a", a.instance);
  CHECK(one<lc::start_load>(fx).store_id == "b");
}

TEST_CASE("a queued load fails when the closing store it waited for reloads instead",
          "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  auto a = r.use("a", 0ms);
  r.release(a.lease);             // a closing
  const auto b = r.last + 1;
  r.acquire("b");                 // queued behind a's slot
  r.acquire("a");                 // a's next instance takes the slot back
  auto fx = r.down("a", a.instance);
  CHECK(one<lc::start_load>(fx).store_id == "a");
  auto err = one<lc::answer_error>(fx);
  CHECK(err.request == b);
  CHECK(err.reason.code == errc::load_failed);
}

TEST_CASE("callers joining a queued load share it", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  const auto a = load_inactive(r, "a");
  r.acquire("b");
  r.preload("b");
  r.acquire("b");
  CHECK(r.info("b").observers == 2);
  auto fx = r.down("a", a);
  const auto start = one<lc::start_load>(fx);
  fx = r.loaded("b", start.instance);
  CHECK(count<lc::answer_ready>(fx) == 3);
  CHECK(r.m.stats().loads == 2);
}

TEST_CASE("a queued load every caller gave up on never starts", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  const auto a = load_inactive(r, "a");
  r.acquire("b", 60s, 7);
  r.observer_down(7);
  CHECK(r.info("b").state == store_state::loading);  // still queued, no caller
  auto fx = r.down("a", a);
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(r.info("b").state == store_state::disposed);
  CHECK(r.m.stats().queued == 0);
  CHECK(r.m.stats().loading == 0);
}

TEST_CASE("clear answers queued loads cancelled and starts none of them", "[lifecycle][limits]") {
  rig r{lc::limits{.max_open = 1}};
  const auto a = load_inactive(r, "a");
  const auto b = r.last + 1;
  r.acquire("b");
  auto fx = r.clear();
  const auto clear = r.last;
  auto err = one<lc::answer_error>(fx);
  CHECK(err.request == b);
  CHECK(err.reason.code == errc::cancelled);
  CHECK(r.m.stats().queued == 0);
  fx = r.down("a", a);
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(one<lc::answer_done>(fx).request == clear);
  auto s = r.m.stats();
  CHECK(s.loading + s.active + s.inactive + s.closing == 0);
}

TEST_CASE("without a limit nothing is ever evicted", "[lifecycle][limits]") {
  rig r;
  for (int i = 0; i < 5000; ++i) load_inactive(r, "s" + std::to_string(i));
  auto s = r.m.stats();
  CHECK(s.inactive == 5000);
  CHECK(s.evictions == 0);
}

TEST_CASE("the id history forgets the oldest disposed ids beyond its bound",
          "[lifecycle][limits]") {
  rig r{lc::limits{.id_history = 3}};
  for (int i = 0; i < 5; ++i) {
    const std::string id = "s" + std::to_string(i);
    const auto held = r.use(id, 0ms);
    REQUIRE(count<lc::stop_store>(r.release(held.lease)) == 1);
    r.down(id, held.instance);
  }
  CHECK(r.info("s0").loads == 0);  // forgotten
  CHECK(r.info("s1").loads == 0);
  CHECK(r.info("s2").loads == 1);
  CHECK(r.info("s4").loads == 1);
  r.use("s4");
  CHECK(r.info("s4").loads == 2);  // a revived id keeps counting
}

TEST_CASE("an id disposed again counts as the most recently disposed in the id history",
          "[lifecycle][limits]") {
  rig r{lc::limits{.id_history = 2}};
  auto cycle = [&](const std::string& id) {
    const auto held = r.use(id, 0ms);
    REQUIRE(count<lc::stop_store>(r.release(held.lease)) == 1);
    r.down(id, held.instance);
  };
  cycle("a");
  cycle("b");
  for (int i = 0; i < 10; ++i) cycle("a");  // many disposals, one id
  CHECK(r.info("b").loads == 1);
  cycle("c");  // three ids disposed: b is the oldest
  CHECK(r.info("b").loads == 0);
  CHECK(r.info("a").loads == 11);
  CHECK(r.info("c").loads == 1);
}
