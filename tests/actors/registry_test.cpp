// Registry rules of DESIGN.md §4 through the fixture, on virtual time.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "multistore/actor_api.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/store_actor.hpp"
#include "multistore/testing.hpp"
#include "expect_error.hpp"
#include "schemas.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::gc_duration;
using multistore::store_options;
using multistore::store_state;
using test_schemas::issue_schema;
using test_schemas::notes_schema;

namespace {

store_options<issue_schema> issue(std::string id, std::optional<gc_duration> gc = std::nullopt) {
  return {.store_id = std::move(id), .gc_time = gc};
}

}  // namespace

TEST_CASE("use loads a store once and hands it out while observed", "[registry]") {
  multistore::testing::fixture fx;
  auto a = fx.use(issue("issue-1", 10s));
  auto b = fx.use(issue("issue-1", 10s));
  auto info = fx.inspect("issue-1");
  CHECK(info.state == store_state::active);
  CHECK(info.observers == 2);
  CHECK(info.loads == 1);
  CHECK(fx.stats().loads == 1);
}

TEST_CASE("a store is disposed exactly at the longest gc_time and not 1 ms earlier",
          "[registry][gc]") {
  multistore::testing::fixture fx;
  auto a = fx.use(issue("issue-1", 10s));
  auto b = fx.use(issue("issue-1", 30s));
  auto c = fx.use(issue("issue-1", 20s));
  a.release();
  b.release();
  c.release();
  CHECK(fx.inspect("issue-1").state == store_state::inactive);
  CHECK(fx.inspect("issue-1").gc_time == 30s);
  fx.advance(30s - 1ms);
  CHECK(fx.inspect("issue-1").state == store_state::inactive);
  CHECK(fx.inspect("issue-1").gc_remaining == gc_duration{1});
  fx.advance(1ms);
  CHECK(fx.inspect("issue-1").state == store_state::disposed);
  CHECK(fx.stats().disposals == 1);
}

TEST_CASE("re-acquiring during the gc window cancels the disposal", "[registry][gc]") {
  multistore::testing::fixture fx;
  fx.use(issue("issue-1", 10s)).release();
  fx.advance(9s);
  auto again = fx.use(issue("issue-1", 10s));
  fx.advance(5s);
  CHECK(fx.inspect("issue-1").state == store_state::active);
  again.release();
  fx.advance(10s - 1ms);
  CHECK(fx.inspect("issue-1").state == store_state::inactive);
  fx.advance(1ms);
  CHECK(fx.inspect("issue-1").state == store_state::disposed);
  CHECK(fx.inspect("issue-1").loads == 1);
  CHECK(fx.stats().pending_timers == 0);
}

TEST_CASE("gc_never keeps a store and gc_time 0 disposes at once", "[registry][gc]") {
  multistore::testing::fixture fx;
  fx.use(issue("root", multistore::gc_never)).release();
  fx.advance(24h * 365);
  CHECK(fx.inspect("root").state == store_state::inactive);
  fx.use(issue("flash", 0ms)).release();
  fx.run();
  CHECK(fx.inspect("flash").state == store_state::disposed);
}

TEST_CASE("the registry default and server mode set gc_time", "[registry][gc]") {
  multistore::testing::fixture fx{{.default_options = {.gc_time = 5s}}};
  fx.use(issue("a")).release();
  fx.advance(5s);
  CHECK(fx.inspect("a").state == store_state::disposed);

  multistore::testing::fixture server{{.server = true}};
  server.use(issue("a")).release();
  server.advance(24h);
  CHECK(server.inspect("a").state == store_state::inactive);
  CHECK(server.inspect("a").gc_time == multistore::gc_never);
}

TEST_CASE("a preloaded store nobody observes is disposed after its gc_time", "[registry][preload]") {
  multistore::testing::fixture fx;
  fx.preload(issue("issue-9", 20s));
  auto info = fx.inspect("issue-9");
  CHECK(info.state == store_state::inactive);
  CHECK(info.observers == 0);
  fx.advance(20s - 1ms);
  CHECK(fx.inspect("issue-9").state == store_state::inactive);
  fx.advance(1ms);
  CHECK(fx.inspect("issue-9").state == store_state::disposed);
}

TEST_CASE("preload of an inactive store restarts its gc window", "[registry][preload]") {
  multistore::testing::fixture fx;
  fx.use(issue("issue-1", 10s)).release();
  fx.advance(8s);
  fx.preload(issue("issue-1", 10s));
  fx.advance(8s);
  CHECK(fx.inspect("issue-1").state == store_state::inactive);
  fx.advance(2s);
  CHECK(fx.inspect("issue-1").state == store_state::disposed);
}

TEST_CASE("a different schema for a cached id is schema_mismatch", "[registry]") {
  multistore::testing::fixture fx;
  auto h = fx.use(issue("shared-id"));
  CHECK(code_of([&] {
          fx.use(store_options<notes_schema>{.store_id = "shared-id"});
        })
        == errc::schema_mismatch);
  CHECK(fx.inspect("shared-id").observers == 1);
}

TEST_CASE("invalid ids and options are refused and load nothing", "[registry]") {
  multistore::testing::fixture fx;
  CHECK(code_of([&] { fx.use(issue("../etc")); }) == errc::invalid_store_id);
  CHECK(code_of([&] { fx.use(issue("")); }) == errc::invalid_store_id);
  CHECK(code_of([&] { fx.use(issue("ok", -1ms)); }) == errc::invalid_options);
  CHECK(fx.stats().loads == 0);
  CHECK_THROWS_AS(multistore::testing::fixture({.default_options = {.gc_time = -1s}}),
                  multistore::store_error);
}

TEST_CASE("clear closes stores in every state and leaves the registry usable",
          "[registry][clear]") {
  multistore::testing::fixture fx;
  auto active = fx.use(issue("active", 10s));
  fx.use(issue("inactive", 10s)).release();

  // A load in flight: send the acquire without running the scheduler.
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  caf::scoped_actor client{fx.system(), true};
  auto request = multistore::make_store_request(issue("loading"), false);
  auto pending = client->request(fx.registry(), caf::infinite, multistore::acquire_atom::value,
                                 request);
  client->send(fx.registry(), multistore::clear_atom::value);
  sched.run();
  bool cancelled = false;
  pending.receive([](caf::actor&, std::uint64_t, std::uint64_t) {},
                  [&](caf::error& err) {
                    cancelled = multistore::to_error(err).code == errc::cancelled;
                  });
  CHECK(cancelled);

  CHECK(fx.inspect("active").state == store_state::disposed);
  CHECK(fx.inspect("inactive").state == store_state::disposed);
  CHECK(fx.inspect("loading").state == store_state::disposed);
  CHECK(fx.stats().loading == 0);
  CHECK(fx.stats().closing == 0);
  CHECK(code_of([&] { active.commit(test_schemas::issue_created{"x", "y"}); })
        == errc::store_disposed);
  active.release();  // a no-op after clear

  auto again = fx.use(issue("active", 10s));
  CHECK(fx.inspect("active").state == store_state::active);
  CHECK(fx.inspect("active").loads == 2);
}

TEST_CASE("a store actor that dies is removed and the next use reloads it", "[registry]") {
  temp_dir dir;
  multistore::testing::fixture fx;
  auto fragile = issue("fragile", 10s);
  fragile.storage = multistore::sqlite_adapter{dir.path()};
  auto h = fx.use(fragile);
  h.commit(test_schemas::issue_created{"1", "one"});
  caf::scoped_actor killer{fx.system(), true};
  // Find the store actor through the handle's own messages: a commit after the
  // kill must fail, and the next use must load a new instance.
  auto request = multistore::make_store_request(fragile, false);
  auto answer = killer->request(fx.registry(), caf::infinite, multistore::acquire_atom::value,
                                request);
  fx.run();
  caf::actor store;
  std::uint64_t lease = 0;
  answer.receive([&](caf::actor& s, std::uint64_t l, std::uint64_t) { store = s, lease = l; },
                 [](caf::error&) {});
  REQUIRE(store);
  killer->send_exit(store, caf::exit_reason::kill);
  fx.run();
  CHECK(fx.inspect("fragile").state == store_state::disposed);
  CHECK(code_of([&] { h.commit(test_schemas::issue_created{"2", "two"}); })
        == errc::store_disposed);
  auto fresh = fx.use(fragile);
  CHECK(fx.inspect("fragile").loads == 2);
  CHECK(fresh.query("SELECT count(*) AS n FROM issues")[0]["n"] == 1);
}

TEST_CASE("inspect and stats describe every store", "[registry]") {
  multistore::testing::fixture fx;
  CHECK(fx.inspect("never-seen").state == store_state::disposed);
  CHECK(fx.inspect("never-seen").loads == 0);
  auto a = fx.use(issue("a", 10s));
  fx.use(issue("b", 10s)).release();
  auto s = fx.stats();
  CHECK(s.active == 1);
  CHECK(s.inactive == 1);
  CHECK(s.leases == 1);
  CHECK(s.pending_timers == 1);
  CHECK(s.loads == 2);
}

TEST_CASE("a cached acquire still refuses a negative gc_time", "[registry]") {
  multistore::testing::fixture fx;
  auto held = fx.use(issue("cached", 10s));
  CHECK(code_of([&] { fx.use(issue("cached", -5ms)); }) == errc::invalid_options);
  CHECK(fx.inspect("cached").observers == 1);
}

TEST_CASE("a waiting acquire is cancelled by its token", "[registry][messages]") {
  multistore::testing::fixture fx;
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  caf::scoped_actor client{fx.system(), true};
  auto request = multistore::make_store_request(issue("slow"), false);
  request.cancel_token = 77;
  auto pending = client->request(fx.registry(), caf::infinite, multistore::acquire_atom::value,
                                 request);
  client->send(fx.registry(), multistore::cancel_atom::value, std::uint64_t{77});
  sched.run();
  std::optional<errc> code;
  pending.receive([](caf::actor&, std::uint64_t, std::uint64_t) {},
                  [&](caf::error& err) { code = multistore::to_error(err).code; });
  CHECK(code == errc::cancelled);
  // The load itself went on: nobody observes it, so it waits out its gc_time.
  CHECK(fx.inspect("slow").state == store_state::inactive);
  CHECK(fx.inspect("slow").observers == 0);
}

TEST_CASE("after shutdown the registry refuses new work with registry_closed",
          "[registry][messages]") {
  multistore::testing::fixture fx;
  auto h = fx.use(issue("open", 10s));
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  caf::scoped_actor client{fx.system(), true};
  auto done = client->request(fx.registry(), caf::infinite, multistore::shutdown_atom::value);
  sched.run();
  bool ok = false;
  done.receive([&](caf::ok_atom) { ok = true; }, [](caf::error&) {});
  CHECK(ok);
  CHECK(fx.inspect("open").state == store_state::disposed);
  CHECK(code_of([&] { fx.use(issue("open", 10s)); }) == errc::registry_closed);
  CHECK(code_of([&] { h.query("SELECT 1"); }) == errc::store_disposed);
}

TEST_CASE("inspect and stats answer through messages", "[registry][messages]") {
  multistore::testing::fixture fx;
  auto h = fx.use(issue("seen", 10s));
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  caf::scoped_actor client{fx.system(), true};
  auto info = client->request(fx.registry(), caf::infinite, multistore::inspect_atom::value,
                              std::string{"seen"});
  sched.run();
  multistore::store_info got;
  info.receive([&](multistore::store_info_msg& m) { got = multistore::from_msg(m); },
               [](caf::error&) {});
  CHECK(got.state == store_state::active);
  CHECK(got.observers == 1);
  CHECK(got.gc_time == 10s);
  auto stats = client->request(fx.registry(), caf::infinite, multistore::stats_atom::value);
  sched.run();
  multistore::registry_stats s;
  stats.receive([&](multistore::stats_msg& m) { s = multistore::from_msg(m); }, [](caf::error&) {});
  CHECK(s.active == 1);
  CHECK(s.loads == 1);
}

TEST_CASE("at the open-store limit the least recently used inactive store is disposed first",
          "[registry][limits]") {
  multistore::testing::fixture fx{{.max_open_stores = 2}};
  fx.use(issue("issue-1", 60s)).release();
  fx.use(issue("issue-2", 60s)).release();
  auto third = fx.use(issue("issue-3", 60s));
  third.commit(test_schemas::issue_created{"i3", "third"});
  CHECK(fx.inspect("issue-1").state == store_state::disposed);
  CHECK(fx.inspect("issue-2").state == store_state::inactive);
  CHECK(fx.inspect("issue-3").state == store_state::active);
  auto s = fx.stats();
  CHECK(s.evictions == 1);
  CHECK(s.disposals == 1);
  CHECK(s.queued == 0);
  CHECK(s.pending_timers == 1);  // issue-2's; issue-1's timer went with it
}

TEST_CASE("at the open-store limit with every store observed a load fails and the rest serve",
          "[registry][limits]") {
  multistore::testing::fixture fx{{.max_open_stores = 2}};
  auto a = fx.use(issue("issue-1"));
  auto b = fx.use(issue("issue-2"));
  try {
    fx.use(issue("issue-3"));
    FAIL("a third store loaded over the limit");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::load_failed);
    CHECK_THAT(e.what(), Catch::Contains("limit of 2 open stores"));
  }
  CHECK(fx.inspect("issue-3").state == store_state::disposed);
  a.commit(test_schemas::issue_created{"i1", "still serving"});
  CHECK(a.query("SELECT title FROM issues").size() == 1);
  a.release();
  auto c = fx.use(issue("issue-3"));  // issue-1 makes room now
  CHECK(fx.inspect("issue-1").state == store_state::disposed);
  CHECK(fx.inspect("issue-3").state == store_state::active);
}

TEST_CASE("a cached acquire validates its options like any other", "[registry]") {
  multistore::testing::fixture fx;
  auto held = fx.use(issue("cached-bad", 10s));
  auto no_directory = issue("cached-bad");
  no_directory.storage = multistore::sqlite_adapter{""};
  CHECK(code_of([&] { fx.use(no_directory); }) == errc::invalid_options);
  CHECK(fx.inspect("cached-bad").observers == 1);
}

TEST_CASE("a use that arrives while clear closes a loading store gets the next instance",
          "[registry][clear]") {
  multistore::testing::fixture fx;
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  caf::scoped_actor client{fx.system(), true};
  const auto request = multistore::make_store_request(issue("reloaded", 10s), false);
  auto registry = fx.registry();
  auto run_registry_once = [&] {
    REQUIRE(sched.prioritize(registry));
    sched.run_once();
  };
  auto first = client->request(registry, caf::infinite, multistore::acquire_atom::value, request);
  auto cleared = client->request(registry, caf::infinite, multistore::clear_atom::value);
  run_registry_once();  // the acquire: the store actor is spawned and asked to open
  run_registry_once();  // the clear: the loading store is asked to close once it opened
  // The store opens and answers (the open runs as a job on its I/O executor,
  // inline here, and is answered on the job's done message); the close it
  // got meanwhile waits behind the open.
  for (int step = 0; step < 8 && !sched.prioritize(registry); ++step)
    sched.run_once();
  run_registry_once();  // the registry hears that the open succeeded
  // A later use: not one of the loads clear cancelled.
  auto later = client->request(registry, caf::infinite, multistore::acquire_atom::value, request);
  sched.run();
  std::optional<errc> first_code;
  first.receive([](caf::actor&, std::uint64_t, std::uint64_t) {},
                [&](caf::error& err) { first_code = multistore::to_error(err).code; });
  CHECK(first_code == errc::cancelled);
  cleared.receive([](caf::ok_atom) {}, [](caf::error&) { FAIL("clear failed"); });
  std::optional<errc> later_code;
  std::uint64_t later_lease = 0;
  later.receive([&](caf::actor&, std::uint64_t lease, std::uint64_t) { later_lease = lease; },
                [&](caf::error& err) { later_code = multistore::to_error(err).code; });
  CHECK_FALSE(later_code);
  CHECK(later_lease != 0);
  auto info = fx.inspect("reloaded");
  CHECK(info.state == store_state::active);
  CHECK(info.loads == 2);
  client->send(registry, multistore::release_atom::value, later_lease);
  fx.run();
}

TEST_CASE("a boot that a cached acquire does not run is not kept", "[registry]") {
  multistore::testing::fixture fx;
  auto held = fx.use(issue("cached-boot", 10s));
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  auto again = issue("cached-boot", 10s);
  again.boot = [token = std::move(token)](multistore::store<issue_schema>&) {};
  {
    auto second = fx.use(again);
    again.boot = nullptr;
    CHECK(fx.inspect("cached-boot").observers == 2);
  }
  CHECK(watch.expired());
}
