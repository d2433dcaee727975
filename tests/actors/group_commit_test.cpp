// Group commit in the store actor: commits that are queued together share one
// transaction, and each keeps its own all-or-nothing answer.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "multistore/actor_api.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/testing.hpp"
#include "expect_error.hpp"
#include "schemas.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_options;
using test_schemas::issue_created;
using test_schemas::issue_schema;

namespace {

using store_t = multistore::acquired_store<issue_schema>;

/// The answer to each request of a burst, by its position in the burst.
struct burst_answers {
  std::map<int, std::uint64_t> seq;
  std::map<int, errc> error;
  std::optional<std::string> rows;  ///< the query's answer, when the burst ends with one
};

/// Acquires `options`, then sends every commit of `commits` to the store at
/// once, without waiting for an answer, followed by a count query, or by a
/// shutdown of the store when `shutdown_after`.
caf::behavior burst_client(caf::event_based_actor* self, caf::actor registry,
                           store_options<issue_schema> options,
                           std::vector<std::vector<multistore::wire_event>> commits,
                           bool shutdown_after, burst_answers* out) {
  multistore::acquire_store(
      self, registry, options,
      [=](store_t s) {
        for (int i = 0; i < static_cast<int>(commits.size()); ++i)
          self->request(s.store, caf::infinite, multistore::commit_atom::value,
                        commits[static_cast<std::size_t>(i)])
              .then([=](std::uint64_t seq) { out->seq[i] = seq; },
                    [=](caf::error& e) { out->error[i] = multistore::to_error(e).code; });
        if (shutdown_after) {
          self->send(s.store, multistore::close_atom::value);
          return;
        }
        self->request(s.store, caf::infinite, multistore::query_atom::value,
                      std::string{"SELECT count(*) AS n FROM issues"}, std::string{})
            .then([=](const std::string& rows) { out->rows = rows; });
      },
      [](const multistore::error&) {});
  return {[](caf::get_atom) {}};
}

using go_atom = caf::atom_constant<caf::atom("go")>;

/// Acquires `options` and keeps the store in `*store`; on go, sends it two
/// commits at once.
caf::behavior pair_client(caf::event_based_actor* self, caf::actor registry,
                          store_options<issue_schema> options, burst_answers* out,
                          caf::actor* store) {
  multistore::acquire_store(
      self, registry, options, [=](store_t s) { *store = s.store; },
      [](const multistore::error&) {});
  return {[=](go_atom) {
    for (int i = 0; i < 2; ++i)
      self->request(*store, caf::infinite, multistore::commit_atom::value,
                    store_t::events(issue_created{std::to_string(i), "held"}))
          .then([=](std::uint64_t seq) { out->seq[i] = seq; },
                [=](caf::error& e) { out->error[i] = multistore::to_error(e).code; });
  }};
}

/// Both commits of a two-commit client were acknowledged in order, its store
/// is gone, and a reload finds both on disk; then the client is stopped.
void check_both_committed(multistore::testing::fixture& fx,
                          const store_options<issue_schema>& opts, const burst_answers& out,
                          const caf::actor& client) {
  CHECK(out.seq == std::map<int, std::uint64_t>{{0, 1}, {1, 2}});
  CHECK(out.error.empty());
  CHECK(fx.inspect(opts.store_id).state == multistore::store_state::disposed);
  auto h = fx.use(opts);
  CHECK(h.query("SELECT count(*) AS n FROM issues")[0]["n"] == 2);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  fx.run();
}

std::vector<multistore::wire_event> creating(std::initializer_list<const char*> ids) {
  std::vector<multistore::wire_event> out;
  for (const auto* id : ids)
    out.push_back(store_t::events(issue_created{id, "from a burst"}).front());
  return out;
}

}  // namespace

TEST_CASE("commits queued together share one transaction and fail alone", "[actors][group]") {
  multistore::testing::fixture fx;
  store_options<issue_schema> opts{.store_id = "burst", .gc_time = 10s};
  auto h = fx.use(opts);
  std::vector<nlohmann::json> seen;
  auto sub = h.subscribe("SELECT count(*) AS n FROM issues",
                         [&](const nlohmann::json& rows) { seen.push_back(rows); });
  fx.run();
  REQUIRE(seen.size() == 1);

  burst_answers out;
  // The second commit repeats the first one's primary key: it alone fails.
  auto client = fx.system().spawn(burst_client, fx.registry(), opts,
                                  std::vector{creating({"1"}), creating({"2", "1"}),
                                              creating({"3", "4"})},
                                  false, &out);
  fx.run();
  CHECK(out.seq == std::map<int, std::uint64_t>{{0, 1}, {2, 3}});
  CHECK(out.error == std::map<int, errc>{{1, errc::storage_failed}});
  // The query was sent after the commits and sees them: mailbox order holds.
  REQUIRE(out.rows);
  CHECK(nlohmann::json::parse(*out.rows)[0]["n"] == 3);
  // One transaction, so one notification: separate ones would have sent 1 and then 3.
  REQUIRE(seen.size() == 2);
  CHECK(seen[1][0]["n"] == 3);
  auto log = h.query("SELECT seq, json_extract(args, '$.id') AS id FROM __events ORDER BY seq");
  CHECK(log == nlohmann::json::parse(R"([{"seq":1,"id":"1"},{"seq":2,"id":"3"},{"seq":3,"id":"4"}])"));
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE("a store shut down with commits held back commits them first", "[actors][group]") {
  temp_dir dir;
  multistore::testing::fixture fx;
  store_options<issue_schema> opts{.store_id = "held",
                                   .storage = multistore::sqlite_adapter{dir.path()},
                                   .gc_time = 10s};
  burst_answers out;
  auto client = fx.system().spawn(burst_client, fx.registry(), opts,
                                  std::vector{creating({"1"}), creating({"2"})}, true, &out);
  fx.run();
  // Both were held behind each other when the shutdown arrived: acknowledged and on disk.
  check_both_committed(fx, opts, out, client);
}

TEST_CASE("a store killed with commits held back commits them before it goes",
          "[actors][group]") {
  temp_dir dir;
  multistore::testing::fixture fx;
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(fx.system().scheduler());
  store_options<issue_schema> opts{.store_id = "killed",
                                   .storage = multistore::sqlite_adapter{dir.path()},
                                   .gc_time = 10s};
  burst_answers out;
  caf::actor store;
  auto client = fx.system().spawn(pair_client, fx.registry(), opts, &out, &store);
  fx.run();
  REQUIRE(store);
  // The client alone runs and sends both commits; the kill lands behind them.
  // The store holds the first (the second is queued) and the second, and the
  // kill comes before the flush message it sent itself.
  caf::anon_send(client, go_atom::value);
  REQUIRE(sched.prioritize(client));
  sched.run_once();
  caf::anon_send_exit(store, caf::exit_reason::kill);
  fx.run();
  check_both_committed(fx, opts, out, client);
}

TEST_CASE("a store answers overloaded beyond max_pending_commits and writes none of it",
          "[actors][overloaded]") {
  multistore::registry_options ro;
  ro.max_pending_commits = 3;
  multistore::testing::fixture fx{ro};
  store_options<issue_schema> opts{.store_id = "flooded", .gc_time = 10s};
  auto h = fx.use(opts);
  burst_answers out;
  // Five commits reach the store together: it takes three, the limit, and
  // turns the next two away at once.
  auto client = fx.system().spawn(
      burst_client, fx.registry(), opts,
      std::vector{creating({"1"}), creating({"2"}), creating({"3"}), creating({"4"}),
                  creating({"5", "6"})},
      false, &out);
  fx.run();
  CHECK(out.seq == std::map<int, std::uint64_t>{{0, 1}, {1, 2}, {2, 3}});
  CHECK(out.error == std::map<int, errc>{{3, errc::overloaded}, {4, errc::overloaded}});
  REQUIRE(out.rows);
  CHECK(nlohmann::json::parse(*out.rows)[0]["n"] == 3);
  CHECK(h.query("SELECT count(*) AS n FROM __events")[0]["n"] == 3);
  // The store keeps serving: room again once the three were answered.
  CHECK(h.commit(issue_created{"7", "after the flood"}) == 4);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE("max_pending_commits of 0 is refused", "[actors][overloaded]") {
  multistore::registry_options ro;
  ro.max_pending_commits = 0;
  CHECK(code_of([&] { multistore::testing::fixture fx{ro}; }) == errc::invalid_options);
}
