#include <catch2/catch.hpp>

#include <set>

#include "lifecycle_rig.hpp"

using namespace lifecycle_testing;

// -- loads ------------------------------------------------------------------------

TEST_CASE("concurrent acquires of one id share one load", "[lifecycle][load]") {
  rig r;
  auto first = r.acquire("a");
  const auto start = one<lc::start_load>(first);
  CHECK(start.store_id == "a");
  CHECK(start.instance != 0);
  CHECK(start.options_of == r.last);
  CHECK(count<lc::answer_ready>(first) == 0);

  CHECK(r.acquire("a").empty());
  r.preload("a");
  CHECK(r.acquire("a").empty());
  CHECK(r.m.stats().loads == 1);
  CHECK(r.m.stats().waiting == 4);
  CHECK(r.info("a").state == store_state::loading);
  CHECK(r.info("a").observers == 3);

  auto fx = r.loaded("a", start.instance);
  auto ready = all<lc::answer_ready>(fx);
  REQUIRE(ready.size() == 4);
  std::set<lc::request_id> requests;
  std::set<lc::lease_id> leases;
  for (const auto& a : ready) {
    requests.insert(a.request);
    if (a.lease != 0) leases.insert(a.lease);
    CHECK(a.instance == start.instance);
    CHECK(a.store_id == "a");
  }
  CHECK(requests == std::set<lc::request_id>{1, 2, 3, 4});
  CHECK(leases.size() == 3);
  CHECK(ready[2].lease == 0);  // the preload, answered in arrival order
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").observers == 3);
  CHECK(r.m.stats().waiting == 0);
  CHECK(r.m.stats().leases == 3);
}

TEST_CASE("an acquire of a loaded store is answered at once with a new lease",
          "[lifecycle][load]") {
  rig r;
  const auto first = r.use("a");
  auto fx = r.acquire("a");
  REQUIRE(fx.size() == 1);
  const auto ready = one<lc::answer_ready>(fx);
  CHECK(ready.request == r.last);
  CHECK(ready.instance == first.instance);
  CHECK(ready.lease != 0);
  CHECK(ready.lease != first.lease);
  CHECK(r.info("a").observers == 2);
  CHECK(r.m.stats().loads == 1);
}

TEST_CASE("instance ids and lease ids are never 0 and never repeat", "[lifecycle][load]") {
  rig r;
  std::set<lc::instance_id> instances;
  std::set<lc::lease_id> leases;
  for (int round = 0; round < 5; ++round) {
    for (const std::string id : {"a", "b"}) {
      const auto h = r.use(id, 0ms);
      CHECK(h.instance != 0);
      CHECK(h.lease != 0);
      CHECK(instances.insert(h.instance).second);
      CHECK(leases.insert(h.lease).second);
      const auto stop = one<lc::stop_store>(r.release(h.lease));
      CHECK(stop.instance == h.instance);
      r.down(id, h.instance);
    }
  }
}

TEST_CASE("every waiter of a failed load gets the error", "[lifecycle][load][error]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 60s, 7));
  r.acquire("a", 60s, 8);
  r.preload("a");
  auto fx = r.failed("a", start.instance, "disk on fire");
  auto errors = all<lc::answer_error>(fx);
  REQUIRE(errors.size() == 3);
  for (lc::request_id i = 0; i < 3; ++i) {
    CHECK(errors[i].request == i + 1);
    CHECK(errors[i].reason.code == errc::load_failed);
    CHECK(errors[i].reason.message == "disk on fire");
  }
  CHECK(count<lc::answer_ready>(fx) == 0);
  CHECK(one<lc::stop_store>(fx).instance == start.instance);
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.info("a").observers == 0);
  const auto s = r.m.stats();
  CHECK(s.leases == 0);
  CHECK(s.waiting == 0);
  CHECK(s.load_failures == 1);
  CHECK(s.closing == 1);
  CHECK(s.disposals == 0);

  r.down("a", start.instance);
  CHECK(r.m.stats().closing == 0);
  CHECK(r.info("a").state == store_state::disposed);
}

TEST_CASE("a load error is not cached and the next acquire loads again after store_down",
          "[lifecycle][load][error]") {
  rig r;
  const auto first = one<lc::start_load>(r.acquire("a"));
  r.failed("a", first.instance);

  // The failed instance still closes what it opened: the retry waits for it.
  CHECK(count<lc::start_load>(r.acquire("a")) == 0);
  const auto retry = r.last;
  CHECK(r.info("a").state == store_state::loading);
  CHECK(r.info("a").observers == 1);

  const auto second = one<lc::start_load>(r.down("a", first.instance));
  CHECK(second.instance != first.instance);
  CHECK(second.options_of == retry);
  const auto ready = one<lc::answer_ready>(r.loaded("a", second.instance));
  CHECK(ready.request == retry);
  CHECK(ready.instance == second.instance);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").loads == 2);
}

TEST_CASE("a store stopped while loading fails its waiters", "[lifecycle][load][error]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a"));
  r.preload("a");
  auto fx = r.down("a", start.instance);
  auto errors = all<lc::answer_error>(fx);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].reason.code == errc::load_failed);
  CHECK(errors[1].reason.code == errc::load_failed);
  CHECK(count<lc::stop_store>(fx) == 0);  // it is already down
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.m.stats().load_failures == 1);
  CHECK(r.m.stats().leases == 0);
  CHECK(r.m.stats().loading + r.m.stats().closing == 0);
  CHECK(count<lc::start_load>(r.acquire("a")) == 1);
}

TEST_CASE("stale load completions are ignored", "[lifecycle][load]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);
  r.down("a", h.instance);
  const auto next = one<lc::start_load>(r.acquire("a"));

  CHECK(r.loaded("a", h.instance).empty());
  CHECK(r.failed("a", h.instance).empty());
  CHECK(r.down("a", h.instance).empty());
  CHECK(r.loaded("missing", 99).empty());
  CHECK(r.info("a").state == store_state::loading);

  CHECK(count<lc::answer_ready>(r.loaded("a", next.instance)) == 1);
  CHECK(r.loaded("a", next.instance).empty());  // a second completion changes nothing
  CHECK(r.failed("a", next.instance).empty());
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.m.stats().load_failures == 0);
}

// -- schemas ----------------------------------------------------------------------

TEST_CASE("a different schema for a cached id fails with schema_mismatch", "[lifecycle][schema]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 60s, 1, "issue"));

  auto fx = r.acquire("a", 60s, 2, "board");
  REQUIRE(fx.size() == 1);  // no monitor_observer: no lease was made
  CHECK(one<lc::answer_error>(fx).reason.code == errc::schema_mismatch);
  CHECK(one<lc::answer_error>(r.preload("a", 60s, "board")).reason.code == errc::schema_mismatch);
  CHECK(r.info("a").observers == 1);

  r.loaded("a", start.instance);
  fx = r.acquire("a", 60s, 0, "board");
  CHECK(one<lc::answer_error>(fx).reason.code == errc::schema_mismatch);
  CHECK(one<lc::answer_error>(fx).request == r.last);
  CHECK(r.info("a").observers == 1);
  CHECK(r.m.stats().leases == 1);
}

TEST_CASE("the next instance of a closing id may use another schema", "[lifecycle][schema]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);  // closing
  CHECK(count<lc::answer_error>(r.acquire("a", 60s, 0, "board")) == 0);
  CHECK(one<lc::answer_error>(r.acquire("a", 60s, 0, "issue")).reason.code ==
        errc::schema_mismatch);
  const auto next = one<lc::start_load>(r.down("a", h.instance));
  CHECK(count<lc::answer_ready>(r.loaded("a", next.instance)) == 1);
  CHECK(count<lc::answer_ready>(r.acquire("a", 60s, 0, "board")) == 1);
}

// -- gc ---------------------------------------------------------------------------

TEST_CASE("gc disposes exactly at the longest gc_time and not 1 ms earlier", "[lifecycle][gc]") {
  rig r;
  const auto a = r.use("a", 10s);
  const auto b = r.use("a", 30s);
  r.preload("a", 20s);
  CHECK(r.info("a").gc_time == 30s);

  r.now = 100s;
  CHECK(r.release(a.lease).empty());
  const auto timer = one<lc::arm_timer>(r.release(b.lease));
  CHECK(timer.store_id == "a");
  CHECK(timer.delay == 30s);
  CHECK(r.info("a").state == store_state::inactive);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{30s});

  // A timer that fires 1 ms early (a clock's rounding) does not dispose.
  r.now = 130s - 1ms;
  auto fx = r.fire("a", timer.generation);
  CHECK(count<lc::stop_store>(fx) == 0);
  const auto again = one<lc::arm_timer>(fx);
  CHECK(again.delay == 1ms);
  CHECK(again.generation != timer.generation);
  CHECK(r.info("a").state == store_state::inactive);

  r.now = 130s;
  fx = r.fire("a", again.generation);
  CHECK(one<lc::stop_store>(fx).instance == a.instance);
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.info("a").gc_time == 0ms);
  CHECK(r.m.stats().disposals == 1);
  CHECK(r.m.stats().pending_timers == 0);
}

TEST_CASE("gc_time changes across calls raise the maximum and never lower it", "[lifecycle][gc]") {
  rig r;
  const auto h = r.use("a", 50s);
  CHECK(r.info("a").gc_time == 50s);
  r.preload("a", 10s);
  r.use("a", 5s);
  CHECK(r.info("a").gc_time == 50s);
  r.use("a", 70s);
  CHECK(r.info("a").gc_time == 70s);
  r.preload("a", 90s);
  CHECK(r.info("a").gc_time == 90s);
  (void)h;
}

TEST_CASE("gc_time of calls joining a load counts for that instance", "[lifecycle][gc]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 5s));
  const auto lease_request = r.last;
  r.preload("a", 40s);
  auto fx = r.loaded("a", start.instance);
  lc::lease_id lease = 0;
  for (const auto& a : all<lc::answer_ready>(fx))
    if (a.request == lease_request) lease = a.lease;
  REQUIRE(lease != 0);
  CHECK(one<lc::arm_timer>(r.release(lease)).delay == 40s);
}

TEST_CASE("re-acquiring during the gc window cancels the gc", "[lifecycle][gc]") {
  rig r;
  const auto first = r.use("a", 10s);
  const auto timer = one<lc::arm_timer>(r.release(first.lease));

  r.now = 4s;
  auto fx = r.acquire("a", 10s);
  CHECK(count<lc::arm_timer>(fx) == 0);
  const auto second = one<lc::answer_ready>(fx);
  CHECK(second.instance == first.instance);
  CHECK(r.info("a").state == store_state::active);
  CHECK_FALSE(r.info("a").gc_remaining.has_value());

  // The timer armed for the cancelled window fires: nothing happens.
  r.now = 10s;
  CHECK(r.fire("a", timer.generation).empty());
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.m.stats().pending_timers == 0);

  // Leaving again starts a fresh window with its own timer.
  r.now = 12s;
  const auto next = one<lc::arm_timer>(r.release(second.lease));
  CHECK(next.generation != timer.generation);
  CHECK(next.delay == 10s);
  CHECK(r.fire("a", timer.generation).empty());  // stale generation, fired twice
  r.now = 22s;
  CHECK(count<lc::stop_store>(r.fire("a", next.generation)) == 1);
}

TEST_CASE("a gc timer fired after a re-acquire and release re-arms for the new deadline",
          "[lifecycle][gc]") {
  rig r;
  const auto h = r.use("a", 10s);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));
  r.now = 6s;
  const auto again = r.use("a", 10s);
  r.now = 7s;
  // The pending timer is reused: no second timer for the new window.
  CHECK(r.release(again.lease).empty());
  CHECK(r.m.stats().pending_timers == 1);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{10s});

  r.now = 10s;
  auto fx = r.fire("a", timer.generation);
  CHECK(count<lc::stop_store>(fx) == 0);
  const auto rearmed = one<lc::arm_timer>(fx);
  CHECK(rearmed.delay == 7s);
  CHECK(r.fire("a", timer.generation).empty());  // now stale

  r.now = 17s - 1ms;
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{1ms});
  r.now = 17s;
  CHECK(count<lc::stop_store>(r.fire("a", rearmed.generation)) == 1);
}

TEST_CASE("gc_never is sticky for the instance", "[lifecycle][gc]") {
  rig r;
  const auto a = r.use("a", gc_never);
  const auto b = r.use("a", 1s);
  CHECK(r.info("a").gc_time == gc_never);
  CHECK(r.release(a.lease).empty());
  CHECK(r.release(b.lease).empty());  // no timer for gc_never
  CHECK(r.info("a").state == store_state::inactive);
  CHECK_FALSE(r.info("a").gc_remaining.has_value());
  CHECK(r.m.stats().pending_timers == 0);

  r.now = 1000h;
  CHECK(count<lc::arm_timer>(r.preload("a", 5s)) == 0);
  const auto c = r.use("a", 0ms);
  CHECK(r.release(c.lease).empty());  // even gc_time 0 does not dispose it
  CHECK(r.info("a").state == store_state::inactive);
  CHECK(r.info("a").gc_time == gc_never);
  CHECK(r.m.stats().disposals == 0);
}

TEST_CASE("gc_time 0 disposes at once when the last observer leaves", "[lifecycle][gc]") {
  rig r;
  const auto a = r.use("a", 0ms);
  const auto b = r.use("a", 0ms);
  CHECK(r.release(a.lease).empty());
  auto fx = r.release(b.lease);
  REQUIRE(fx.size() == 1);
  CHECK(one<lc::stop_store>(fx).instance == a.instance);
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.m.stats().disposals == 1);
  CHECK(r.m.stats().pending_timers == 0);
}

TEST_CASE("gc_time 0 does not dispose a store while a caller waits for it", "[lifecycle][gc]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 0ms));
  r.preload("a", 0ms);
  auto fx = r.loaded("a", start.instance);
  CHECK(count<lc::answer_ready>(fx) == 2);
  CHECK(count<lc::stop_store>(fx) == 0);
  CHECK(r.info("a").state == store_state::active);

  // Disposed, then a caller arrives while it closes: it waits and is handed
  // the next instance, which stays up while it holds it.
  const auto lease = all<lc::answer_ready>(fx).front().lease;
  const auto stopped = one<lc::stop_store>(r.release(lease));
  CHECK(count<lc::answer_ready>(r.acquire("a", 0ms)) == 0);
  CHECK(r.info("a").observers == 1);
  const auto next = one<lc::start_load>(r.down("a", stopped.instance));
  fx = r.loaded("a", next.instance);
  CHECK(count<lc::stop_store>(fx) == 0);
  CHECK(one<lc::answer_ready>(fx).instance == next.instance);
  CHECK(r.info("a").state == store_state::active);
}

TEST_CASE("the gc maximum does not carry over to a reloaded instance", "[lifecycle][gc]") {
  rig r;
  const auto first = r.use("a", 100s);
  const auto timer = one<lc::arm_timer>(r.release(first.lease));
  r.now = 100s;
  const auto stop = one<lc::stop_store>(r.fire("a", timer.generation));
  r.down("a", stop.instance);

  const auto second = r.use("a", 5s);
  CHECK(second.instance != first.instance);
  CHECK(r.info("a").gc_time == 5s);
  CHECK(one<lc::arm_timer>(r.release(second.lease)).delay == 5s);
}

TEST_CASE("a huge gc_time never fires early", "[lifecycle][gc]") {
  rig r;
  const gc_duration huge{std::int64_t{1} << 33};
  const auto h = r.use("a", huge);
  r.now = 1000ms;
  auto timer = one<lc::arm_timer>(r.release(h.lease));
  CHECK(timer.delay == lc::max_timer_delay);
  const auto deadline = r.now + huge;

  int arms = 1;
  while (true) {
    r.now += timer.delay;
    auto fx = r.fire("a", timer.generation);
    if (r.now < deadline) {
      CHECK(count<lc::stop_store>(fx) == 0);
      timer = one<lc::arm_timer>(fx);
      CHECK(timer.delay <= lc::max_timer_delay);
      CHECK(timer.delay == std::min(deadline - r.now, lc::max_timer_delay));
      ++arms;
      REQUIRE(arms < 10);
    } else {
      CHECK(r.now == deadline);
      CHECK(count<lc::stop_store>(fx) == 1);
      break;
    }
  }
  CHECK(arms == 5);  // four clamped delays, then the last 4 ms
  CHECK(r.info("a").state == store_state::disposed);
}

TEST_CASE("deadlines near the end of time saturate instead of overflowing", "[lifecycle][gc]") {
  rig r;
  const gc_duration vast{std::int64_t{1} << 62};
  r.now = lc::instant{std::int64_t{1} << 62};
  const auto h = r.use("a", vast);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));
  CHECK(timer.delay == lc::max_timer_delay);
  CHECK(r.info("a").gc_remaining.value() > vast - 1s);
  r.now += timer.delay;
  CHECK(count<lc::arm_timer>(r.fire("a", timer.generation)) == 1);
  CHECK(r.info("a").state == store_state::inactive);
}

TEST_CASE("10000 acquire release cycles leave at most one pending timer", "[lifecycle][gc]") {
  rig r;
  r.use("a", 50ms);  // keeps the store; then cycle a second lease
  std::size_t arms = 0;
  lc::effects fx;
  std::vector<lc::lease_id> seen;
  for (int i = 0; i < 10000; ++i) {
    r.now += 1ms;
    fx.clear();
    r.m.handle(lc::acquire{++r.last, "b", "issue", 0, 50ms}, r.now, fx);
    if (auto s = all<lc::start_load>(fx); !s.empty())
      r.m.handle(lc::load_succeeded{"b", s[0].instance}, r.now, fx);
    const auto lease = one<lc::answer_ready>(fx).lease;
    fx.clear();
    r.m.handle(lc::release{lease}, r.now, fx);
    arms += count<lc::arm_timer>(fx);
    REQUIRE(r.m.stats().pending_timers <= 1);
  }
  CHECK(arms == 1);
  CHECK(r.m.stats().leases == 1);
  CHECK(r.m.stats().loads == 2);
  CHECK(r.info("b").gc_remaining == std::optional<gc_duration>{50ms});
}

// -- preload ----------------------------------------------------------------------

TEST_CASE("preload of a missing store loads it and starts its gc window when the load finishes",
          "[lifecycle][preload]") {
  rig r;
  const auto start = one<lc::start_load>(r.preload("a", 10s));
  CHECK(start.options_of == r.last);
  CHECK(r.info("a").observers == 0);
  CHECK(r.m.stats().leases == 0);

  r.now = 5s;
  auto fx = r.loaded("a", start.instance);
  const auto ready = one<lc::answer_ready>(fx);
  CHECK(ready.lease == 0);
  CHECK(ready.request == 1);
  const auto timer = one<lc::arm_timer>(fx);
  CHECK(timer.delay == 10s);
  CHECK(r.info("a").state == store_state::inactive);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{10s});

  r.now = 15s - 1ms;
  fx = r.fire("a", timer.generation);
  CHECK(count<lc::stop_store>(fx) == 0);
  const auto again = one<lc::arm_timer>(fx);
  r.now = 15s;
  CHECK(count<lc::stop_store>(r.fire("a", again.generation)) == 1);
}

TEST_CASE("preload joins an in-flight load", "[lifecycle][preload]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a"));
  CHECK(r.preload("a").empty());
  CHECK(r.m.stats().loads == 1);
  auto fx = r.loaded("a", start.instance);
  auto ready = all<lc::answer_ready>(fx);
  REQUIRE(ready.size() == 2);
  CHECK(ready[1].request == 2);
  CHECK(ready[1].lease == 0);
  CHECK(ready[0].lease != 0);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").observers == 1);
}

TEST_CASE("preload of an active store answers at once without a lease", "[lifecycle][preload]") {
  rig r;
  const auto h = r.use("a");
  auto fx = r.preload("a");
  REQUIRE(fx.size() == 1);
  const auto ready = one<lc::answer_ready>(fx);
  CHECK(ready.lease == 0);
  CHECK(ready.instance == h.instance);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").observers == 1);
}

TEST_CASE("preload of an inactive store restarts its gc window with the maximum",
          "[lifecycle][preload][gc]") {
  rig r;
  const auto h = r.use("a", 30s);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));

  r.now = 20s;
  auto fx = r.preload("a", 10s);  // a shorter gc_time does not shorten the life
  CHECK(one<lc::answer_ready>(fx).lease == 0);
  CHECK(count<lc::arm_timer>(fx) == 0);  // the pending timer is reused
  CHECK(r.info("a").state == store_state::inactive);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{30s});

  r.now = 25s;
  r.preload("a", 60s);  // a longer one raises the maximum
  CHECK(r.info("a").gc_time == 60s);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{60s});

  r.now = 30s;
  const auto again = one<lc::arm_timer>(r.fire("a", timer.generation));
  CHECK(again.delay == 55s);
  r.now = 85s;
  CHECK(count<lc::stop_store>(r.fire("a", again.generation)) == 1);
}

TEST_CASE("a preload after the window ran out still restarts it", "[lifecycle][preload][gc]") {
  rig r;
  const auto h = r.use("a", 10s);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));
  r.now = 12s;  // the timer is late: the preload wins the race
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{0ms});
  CHECK(count<lc::answer_ready>(r.preload("a", 10s)) == 1);
  const auto again = one<lc::arm_timer>(r.fire("a", timer.generation));
  CHECK(again.delay == 10s);
}

TEST_CASE("preload of a closing store waits for the next instance", "[lifecycle][preload]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);
  CHECK(r.preload("a", 5s).empty());
  CHECK(r.info("a").state == store_state::loading);
  CHECK(r.info("a").gc_time == 5s);
  const auto next = one<lc::start_load>(r.down("a", h.instance));
  CHECK(next.options_of == r.last);
  auto fx = r.loaded("a", next.instance);
  CHECK(one<lc::answer_ready>(fx).lease == 0);
  CHECK(one<lc::arm_timer>(fx).delay == 5s);
}

// -- release ----------------------------------------------------------------------

TEST_CASE("releasing a lease twice is a no-op", "[lifecycle][release]") {
  rig r;
  const auto a = r.use("a");
  r.use("a");
  CHECK(r.release(a.lease).empty());
  CHECK(r.release(a.lease).empty());
  CHECK(r.info("a").observers == 1);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.m.stats().leases == 1);
}

TEST_CASE("releasing an unknown lease is a no-op", "[lifecycle][release]") {
  rig r;
  r.use("a");
  CHECK(r.release(0).empty());
  CHECK(r.release(123456).empty());
  CHECK(r.info("a").observers == 1);
}

TEST_CASE("a lease still waiting for its load cannot be released", "[lifecycle][release]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a"));
  // Leases are numbered from 1: the waiting caller's lease is 1.
  CHECK(r.release(1).empty());
  CHECK(r.info("a").observers == 1);
  CHECK(one<lc::answer_ready>(r.loaded("a", start.instance)).lease == 1);
}

TEST_CASE("release after clear is a no-op", "[lifecycle][release][clear]") {
  rig r;
  const auto old = r.use("a");
  r.clear();
  r.down("a", old.instance);
  const auto fresh = r.use("a");
  CHECK(fresh.lease != old.lease);
  CHECK(r.release(old.lease).empty());
  CHECK(r.info("a").observers == 1);
  CHECK(r.info("a").state == store_state::active);
}

// -- observers --------------------------------------------------------------------

TEST_CASE("an observer is monitored once until it goes down", "[lifecycle][observer]") {
  rig r;
  CHECK(one<lc::monitor_observer>(r.acquire("a", 60s, 7)).observer == 7);
  CHECK(count<lc::monitor_observer>(r.acquire("b", 60s, 7)) == 0);
  CHECK(count<lc::monitor_observer>(r.acquire("a", 60s, 0)) == 0);
  CHECK(count<lc::monitor_observer>(r.acquire("a", 60s, 8)) == 1);
  r.observer_down(7);
  CHECK(one<lc::monitor_observer>(r.acquire("a", 60s, 7)).observer == 7);
  // monitor_observer comes before the load starts
  auto fx = r.acquire("c", 60s, 9);
  REQUIRE(fx.size() == 2);
  CHECK(std::holds_alternative<lc::monitor_observer>(fx[0]));
  CHECK(std::holds_alternative<lc::start_load>(fx[1]));
}

TEST_CASE("observer_down releases its leases across several stores", "[lifecycle][observer]") {
  rig r;
  const auto a1 = r.use("a", 10s, 7);
  r.use("a", 10s, 7);
  r.use("a", 10s, 8);
  const auto b = r.use("b", 20s, 7);
  const auto c = r.use("c", 0ms, 7);
  CHECK(r.m.stats().leases == 5);

  auto fx = r.observer_down(7);
  CHECK(count<lc::answer_error>(fx) == 0);
  CHECK(count<lc::answer_ready>(fx) == 0);
  CHECK(one<lc::arm_timer>(fx).store_id == "b");
  CHECK(one<lc::stop_store>(fx).instance == c.instance);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").observers == 1);
  CHECK(r.info("b").state == store_state::inactive);
  CHECK(r.m.stats().leases == 1);

  CHECK(r.release(a1.lease).empty());  // already ended
  CHECK(r.release(b.lease).empty());
  CHECK(r.info("a").observers == 1);
}

TEST_CASE("an observer that dies while its store loads is dropped without an answer",
          "[lifecycle][observer]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 10s, 7));
  r.acquire("a", 10s, 7);
  CHECK(r.info("a").observers == 2);
  CHECK(r.observer_down(7).empty());
  CHECK(r.info("a").observers == 0);
  CHECK(r.info("a").state == store_state::loading);
  CHECK(r.m.stats().waiting == 0);
  CHECK(r.cancel(1).empty());  // nothing waits any more

  r.now = 3s;
  auto fx = r.loaded("a", start.instance);
  CHECK(count<lc::answer_ready>(fx) == 0);
  CHECK(one<lc::arm_timer>(fx).delay == 10s);
  CHECK(r.info("a").state == store_state::inactive);
  CHECK(r.info("a").gc_remaining == std::optional<gc_duration>{10s});
}

TEST_CASE("an observer dying keeps other waiters of the load", "[lifecycle][observer]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 10s, 7));
  r.acquire("a", 10s, 8);
  r.observer_down(7);
  auto fx = r.loaded("a", start.instance);
  CHECK(one<lc::answer_ready>(fx).request == 2);
  CHECK(r.info("a").state == store_state::active);
  CHECK(r.info("a").observers == 1);
}

TEST_CASE("an unknown observer going down is ignored", "[lifecycle][observer]") {
  rig r;
  r.use("a", 10s, 7);
  CHECK(r.observer_down(99).empty());
  CHECK(r.observer_down(0).empty());
  CHECK(r.info("a").observers == 1);
  r.observer_down(7);
  CHECK(r.observer_down(7).empty());
}

// -- cancel_wait ------------------------------------------------------------------

TEST_CASE("cancel_wait answers cancelled and ends the caller's lease", "[lifecycle][cancel]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a"));
  r.acquire("a");
  r.preload("a");
  auto fx = r.cancel(1);
  const auto err = one<lc::answer_error>(fx);
  CHECK(err.request == 1);
  CHECK(err.reason.code == errc::cancelled);
  CHECK(r.info("a").observers == 1);
  CHECK(r.cancel(1).empty());  // answered already

  CHECK(one<lc::answer_error>(r.cancel(3)).reason.code == errc::cancelled);  // the preload
  CHECK(r.m.stats().waiting == 1);

  fx = r.loaded("a", start.instance);
  const auto ready = one<lc::answer_ready>(fx);
  CHECK(ready.request == 2);
  CHECK(r.cancel(2).empty());  // no longer waiting
  CHECK(r.info("a").observers == 1);
  CHECK(r.cancel(77).empty());
}

TEST_CASE("a load whose callers all cancelled leaves the store on its gc timer",
          "[lifecycle][cancel]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 0ms));
  r.cancel(1);
  CHECK(r.info("a").state == store_state::loading);
  auto fx = r.loaded("a", start.instance);
  CHECK(count<lc::answer_ready>(fx) == 0);
  CHECK(one<lc::stop_store>(fx).instance == start.instance);  // gc_time 0
  CHECK(r.m.stats().disposals == 1);
}

// -- reloads and deaths -----------------------------------------------------------

TEST_CASE("a reload waits for the old instance's store_down", "[lifecycle][reload]") {
  rig r;
  const auto h = r.use("a", 1s);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));
  r.now = 1s;
  CHECK(one<lc::stop_store>(r.fire("a", timer.generation)).instance == h.instance);

  CHECK(count<lc::start_load>(r.acquire("a", 2s, 5)) == 0);
  const auto waiting = r.last;
  CHECK(count<lc::start_load>(r.acquire("a", 3s)) == 0);
  CHECK(r.info("a").state == store_state::loading);
  CHECK(r.info("a").observers == 2);
  CHECK(r.info("a").gc_time == 3s);
  CHECK(r.loaded("a", h.instance).empty());
  CHECK(r.down("b", h.instance).empty());

  const auto next = one<lc::start_load>(r.down("a", h.instance));
  CHECK(next.instance != h.instance);
  CHECK(next.options_of == waiting);
  CHECK(r.info("a").loads == 2);
  CHECK(r.down("a", h.instance).empty());  // stale

  auto ready = all<lc::answer_ready>(r.loaded("a", next.instance));
  REQUIRE(ready.size() == 2);
  CHECK(r.info("a").gc_time == 3s);
}

TEST_CASE("a reload uses the options of a caller still waiting", "[lifecycle][reload]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);
  r.acquire("a");
  r.acquire("a");
  r.cancel(r.last - 1);
  const auto next = one<lc::start_load>(r.down("a", h.instance));
  CHECK(next.options_of == r.last);
}

TEST_CASE("a store that dies on its own is removed and the next acquire reloads",
          "[lifecycle][reload]") {
  rig r;
  const auto a = r.use("a", 10s, 3);
  r.use("a", 10s, 4);
  auto fx = r.down("a", a.instance);
  CHECK(count<lc::stop_store>(fx) == 0);
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(r.info("a").state == store_state::disposed);
  CHECK(r.m.stats().leases == 0);
  CHECK(r.m.stats().disposals == 0);
  CHECK(r.release(a.lease).empty());
  CHECK(r.observer_down(4).empty());

  const auto next = one<lc::start_load>(r.acquire("a"));
  CHECK(next.instance != a.instance);
  CHECK(r.info("a").loads == 2);
}

TEST_CASE("an inactive store that dies takes its timer with it", "[lifecycle][reload]") {
  rig r;
  const auto h = r.use("a", 10s);
  const auto timer = one<lc::arm_timer>(r.release(h.lease));
  r.down("a", h.instance);
  CHECK(r.m.stats().pending_timers == 0);
  const auto next = r.use("a", 10s);
  r.now = 10s;
  CHECK(r.fire("a", timer.generation).empty());
  CHECK(r.info("a").state == store_state::active);
  (void)next;
}

// -- clear and shutdown -----------------------------------------------------------

TEST_CASE("clear stops every store and answers only when all are down", "[lifecycle][clear]") {
  rig r;
  const auto loading = one<lc::start_load>(r.acquire("loading", 10s, 7));
  const auto waiter = r.last;
  r.preload("loading");
  const auto preloader = r.last;
  const auto active = r.use("active");
  const auto inactive = r.use("inactive", 10s);
  const auto timer = one<lc::arm_timer>(r.release(inactive.lease));
  const auto closing = r.use("closing", 0ms);
  r.release(closing.lease);
  const auto disposals = r.m.stats().disposals;

  auto fx = r.clear();
  const auto clear_request = r.last;
  auto errors = all<lc::answer_error>(fx);
  REQUIRE(errors.size() == 2);
  for (const auto& e : errors) {
    CHECK(e.reason.code == errc::cancelled);
    CHECK_THAT(e.reason.message, Catch::Contains("cleared"));
    CHECK((e.request == waiter || e.request == preloader));
  }
  auto stops = all<lc::stop_store>(fx);
  CHECK(stops.size() == 3);  // the closing one was asked already
  std::set<std::string> stopped;
  for (const auto& s : stops) stopped.insert(s.store_id);
  CHECK(stopped == std::set<std::string>{"loading", "active", "inactive"});
  CHECK(count<lc::answer_done>(fx) == 0);
  CHECK(r.m.stats().disposals == disposals + 2);
  CHECK(r.m.stats().leases == 0);
  CHECK(r.m.stats().waiting == 0);
  CHECK(r.m.stats().pending_timers == 0);
  CHECK(r.m.stats().closing == 4);
  for (const std::string id : {"loading", "active", "inactive", "closing"})
    CHECK(r.info(id).state == store_state::disposed);

  CHECK(r.fire("inactive", timer.generation).empty());
  CHECK(r.loaded("loading", loading.instance).empty());  // the aborted load finished anyway
  CHECK(r.down("loading", loading.instance).empty());
  CHECK(r.down("active", active.instance).empty());
  CHECK(r.down("inactive", inactive.instance).empty());
  fx = r.down("closing", closing.instance);
  REQUIRE(fx.size() == 1);
  CHECK(one<lc::answer_done>(fx).request == clear_request);
  CHECK(r.m.stats().closing == 0);
  CHECK_FALSE(r.m.closed());
}

TEST_CASE("clear with nothing loaded answers at once", "[lifecycle][clear]") {
  rig r;
  auto fx = r.clear();
  REQUIRE(fx.size() == 1);
  CHECK(one<lc::answer_done>(fx).request == r.last);
}

TEST_CASE("two clears each wait for the stores they closed", "[lifecycle][clear]") {
  rig r;
  const auto a = r.use("a");
  r.clear();
  const auto first = r.last;
  const auto b = r.use("b");
  r.clear();
  const auto second = r.last;
  CHECK(r.down("b", b.instance).empty());
  auto fx = r.down("a", a.instance);
  auto done = all<lc::answer_done>(fx);
  REQUIRE(done.size() == 2);
  CHECK(std::set<lc::request_id>{done[0].request, done[1].request} ==
        std::set<lc::request_id>{first, second});
}

TEST_CASE("the registry stays usable during and after clear", "[lifecycle][clear]") {
  rig r;
  const auto old = r.use("a");
  r.clear();
  const auto clear_request = r.last;

  // An acquire of an id still closing waits and reloads after its store_down.
  CHECK(count<lc::start_load>(r.acquire("a")) == 0);
  const auto waiting = r.last;
  CHECK(count<lc::start_load>(r.acquire("b")) == 1);
  auto fx = r.down("a", old.instance);
  CHECK(one<lc::answer_done>(fx).request == clear_request);
  const auto next = one<lc::start_load>(fx);
  CHECK(next.options_of == waiting);
  CHECK(one<lc::answer_ready>(r.loaded("a", next.instance)).request == waiting);
  CHECK(r.info("a").state == store_state::active);
}

TEST_CASE("a clear during a queued reload cancels the queued calls", "[lifecycle][clear]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);
  r.acquire("a");
  const auto queued = r.last;
  auto fx = r.clear();
  CHECK(one<lc::answer_error>(fx).request == queued);
  CHECK(count<lc::stop_store>(fx) == 0);
  fx = r.down("a", h.instance);
  CHECK(count<lc::answer_done>(fx) == 1);
  CHECK(count<lc::start_load>(fx) == 0);
  CHECK(r.m.stats().closing + r.m.stats().loading == 0);
}

TEST_CASE("shutdown cancels waiters with registry_closed and refuses new calls",
          "[lifecycle][shutdown]") {
  rig r;
  const auto start = one<lc::start_load>(r.acquire("a", 60s, 7));
  const auto b = r.use("b");
  CHECK_FALSE(r.m.closed());

  auto fx = r.shutdown();
  const auto request = r.last;
  CHECK(r.m.closed());
  CHECK(one<lc::answer_error>(fx).reason.code == errc::registry_closed);
  CHECK(count<lc::stop_store>(fx) == 2);
  CHECK(count<lc::answer_done>(fx) == 0);

  fx = r.acquire("c", 60s, 9);
  REQUIRE(fx.size() == 1);
  CHECK(one<lc::answer_error>(fx).reason.code == errc::registry_closed);
  CHECK(one<lc::answer_error>(r.preload("b")).reason.code == errc::registry_closed);
  CHECK(one<lc::answer_error>(r.acquire("a")).reason.code == errc::registry_closed);
  CHECK(r.release(b.lease).empty());

  CHECK(r.down("a", start.instance).empty());
  CHECK(one<lc::answer_done>(r.down("b", b.instance)).request == request);
  CHECK(one<lc::answer_done>(r.clear()).request == r.last);
  CHECK(r.m.stats().closing == 0);
}

TEST_CASE("a clear after shutdown waits for stores still closing", "[lifecycle][shutdown]") {
  rig r;
  const auto h = r.use("a");
  r.shutdown();
  const auto first = r.last;
  CHECK(count<lc::answer_done>(r.clear()) == 0);
  const auto second = r.last;
  auto done = all<lc::answer_done>(r.down("a", h.instance));
  REQUIRE(done.size() == 2);
  CHECK(done[0].request == first);
  CHECK(done[1].request == second);
}

// -- info and stats ---------------------------------------------------------------

TEST_CASE("info of an unknown id is disposed with no loads", "[lifecycle][info]") {
  rig r;
  r.use("a");
  const auto i = r.info("never-seen");
  CHECK(i.state == store_state::disposed);
  CHECK(i.observers == 0);
  CHECK(i.gc_time == 0ms);
  CHECK(i.loads == 0);
  CHECK_FALSE(i.gc_remaining.has_value());
}

TEST_CASE("info reports a closing store as disposed", "[lifecycle][info]") {
  rig r;
  const auto h = r.use("a", 0ms);
  r.release(h.lease);
  const auto i = r.info("a");
  CHECK(i.state == store_state::disposed);
  CHECK(i.observers == 0);
  CHECK(i.gc_time == 0ms);
  CHECK(i.loads == 1);
  CHECK(r.m.stats().closing == 1);
}

TEST_CASE("the loads counter counts every instance of an id across reloads", "[lifecycle][info]") {
  rig r;
  const auto a = r.use("a", 0ms);
  CHECK(r.info("a").loads == 1);
  r.release(a.lease);
  r.down("a", a.instance);
  CHECK(r.info("a").loads == 1);  // survives the entry

  const auto failing = one<lc::start_load>(r.acquire("a"));
  CHECK(r.info("a").loads == 2);
  r.failed("a", failing.instance);
  r.down("a", failing.instance);
  r.use("a");
  CHECK(r.info("a").loads == 3);
  CHECK(r.info("b").loads == 0);
  CHECK(r.m.stats().loads == 3);
  CHECK(r.m.stats().load_failures == 1);
}

TEST_CASE("stats count entries by phase", "[lifecycle][info]") {
  rig r;
  r.acquire("loading");
  r.use("active");
  const auto i = r.use("inactive", 5s);
  r.release(i.lease);
  const auto c = r.use("closing", 0ms);
  r.release(c.lease);
  r.use("active", 60s, 4);
  const auto s = r.m.stats();
  CHECK(s.loading == 1);
  CHECK(s.active == 1);
  CHECK(s.inactive == 1);
  CHECK(s.closing == 1);
  CHECK(s.leases == 3);
  CHECK(s.waiting == 1);
  CHECK(s.pending_timers == 1);
  CHECK(s.loads == 4);
  CHECK(s.disposals == 1);
}

TEST_CASE("a moved machine keeps its state", "[lifecycle]") {
  rig r;
  const auto h = r.use("a");
  lc::machine moved = std::move(r.m);
  CHECK(moved.info("a", r.now).observers == 1);
  CHECK(count<lc::arm_timer>(moved.handle(lc::release{h.lease}, r.now)) == 1);
}

// -- names ------------------------------------------------------------------------

TEST_CASE("every effect and event has its type name", "[lifecycle][names]") {
  const std::vector<std::pair<lc::effect, std::string_view>> effects{
      {lc::start_load{}, "start_load"},     {lc::answer_ready{}, "answer_ready"},
      {lc::answer_error{}, "answer_error"}, {lc::answer_done{}, "answer_done"},
      {lc::arm_timer{}, "arm_timer"},       {lc::stop_store{}, "stop_store"},
      {lc::monitor_observer{}, "monitor_observer"}};
  REQUIRE(effects.size() == std::variant_size_v<lc::effect>);
  for (const auto& [e, name] : effects) CHECK(lc::to_string(e) == name);

  const std::vector<std::pair<lc::event, std::string_view>> events{
      {lc::acquire{}, "acquire"},
      {lc::preload{}, "preload"},
      {lc::load_succeeded{}, "load_succeeded"},
      {lc::load_failed{}, "load_failed"},
      {lc::release{}, "release"},
      {lc::observer_down{}, "observer_down"},
      {lc::cancel_wait{}, "cancel_wait"},
      {lc::gc_fired{}, "gc_fired"},
      {lc::store_down{}, "store_down"},
      {lc::clear{}, "clear"},
      {lc::shutdown{}, "shutdown"}};
  REQUIRE(events.size() == std::variant_size_v<lc::event>);
  for (const auto& [e, name] : events) CHECK(lc::to_string(e) == name);
}
