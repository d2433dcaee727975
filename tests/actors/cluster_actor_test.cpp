// The cluster actor on the deterministic fixture: the fixture is one node of a
// two-member cluster, and the test plays the other member with one actor that
// answers the hello and acts as that member's registry and store. Ending that
// actor with `remote_link_unreachable` is what CAF does to every proxy of a
// node whose link is lost.
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>

#include "expect_error.hpp"
#include "multistore/actor_api.hpp"
#include "multistore/membership.hpp"
#include "multistore/messages.hpp"
#include "multistore/placement.hpp"
#include "multistore/testing.hpp"
#include "schemas.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_options;
using multistore::store_state;
using test_schemas::issue_created;
using test_schemas::issue_schema;

namespace {

multistore::cluster_options two_members(std::string self) {
  return multistore::cluster_options{
      .name = "test",
      .members = {{"alpha", "127.0.0.1", 1}, {"beta", "127.0.0.1", 2}},
      .self = std::move(self)};
}

/// The first id of the form "s<n>" that `member` owns.
std::string owned_by(const std::string& member) {
  const auto members = two_members("alpha").members;
  for (int i = 0;; ++i)
    if (auto id = "s" + std::to_string(i); multistore::owner_of(id, members) == member) return id;
}

store_options<issue_schema> options(const std::string& id) {
  return store_options<issue_schema>{.store_id = id, .gc_time = 10s};
}

/// What the played member saw, and how it answers.
struct member_log {
  bool joined = false;
  std::vector<multistore::store_request> acquires;
  std::vector<std::uint64_t> releases;
  std::vector<std::string> commits;  ///< event names
  std::vector<caf::actor> subscribers;
  std::uint64_t instance = 1;
  bool hold_commits = false;  ///< leave commits unanswered
  bool hold_acquires = false;
  std::vector<caf::response_promise> held;
  /// Held commits' events, written when put_atom answers them.
  std::vector<std::vector<std::string>> held_events;
};

multistore::hello_msg hello_of(const multistore::cluster_options& as) {
  auto h = multistore::make_hello(as);
  return {h.cluster, h.members_digest, h.protocol_version, h.member};
}

/// Member "alpha": says hello to `cluster`, then serves as alpha's registry
/// and as every store alpha owns.
caf::behavior played_owner(caf::event_based_actor* self, caf::actor cluster, member_log* log) {
  auto me = caf::actor_cast<caf::actor>(self);
  self->request(cluster, caf::infinite, multistore::hello_atom::value,
                hello_of(two_members("alpha")), me)
      .then([log](multistore::hello_msg&, caf::actor&) { log->joined = true; });
  return {
      [=](multistore::acquire_atom,
          multistore::store_request& req) -> caf::result<caf::actor, std::uint64_t, std::uint64_t> {
        log->acquires.push_back(req);
        if (log->hold_acquires) {
          log->held.push_back(self->make_response_promise());
          return caf::delegated<caf::actor, std::uint64_t, std::uint64_t>{};
        }
        return {me, log->acquires.size(), log->instance};
      },
      [=](multistore::release_atom, std::uint64_t lease) { log->releases.push_back(lease); },
      [=](multistore::commit_atom,
          std::vector<multistore::wire_event>& events) -> caf::result<std::uint64_t> {
        if (log->hold_commits) {
          log->held.push_back(self->make_response_promise());
          auto& names = log->held_events.emplace_back();
          for (auto& e : events) names.push_back(e.name);
          return caf::delegated<std::uint64_t>{};
        }
        for (auto& e : events) log->commits.push_back(e.name);
        return log->commits.size();
      },
      [=](multistore::query_atom, std::string&, std::string&) { return std::string{"[]"}; },
      [=](multistore::subscribe_atom, std::string&, std::string&, caf::actor& subscriber) {
        log->subscribers.push_back(subscriber);
        self->send(subscriber, multistore::update_atom::value, std::uint64_t{1}, std::string{"[]"});
        return std::uint64_t{1};
      },
      [=](multistore::unsubscribe_atom, std::uint64_t) {},
      [=](caf::put_atom) {  // writes the held commits and answers them
        for (std::size_t i = 0; i < log->held.size(); ++i) {
          for (auto& name : log->held_events[i]) log->commits.push_back(name);
          log->held[i].deliver(std::uint64_t{log->commits.size()});
        }
        log->held.clear();
        log->held_events.clear();
      },
      [=](caf::ok_atom) {  // answers the held acquires
        for (auto& rp : log->held)
          rp.deliver(me, log->acquires.size(), log->instance);
        log->held.clear();
      },
  };
}

/// Sets `*gone` when `target` ends.
caf::behavior watcher(caf::event_based_actor* self, caf::actor target, bool* gone) {
  self->monitor(target);
  self->set_down_handler([self, gone](caf::down_msg&) {
    *gone = true;
    self->quit();
  });
  return {[](caf::get_atom) {}};
}

/// An actor of this node that uses a store and commits one event; records
/// how the commit ended.
struct commit_outcome {
  bool acquired = false;
  std::optional<std::uint64_t> seq;
  std::optional<errc> failed;
};

caf::behavior committer(caf::event_based_actor* self, caf::actor registry, std::string id,
                        commit_outcome* out) {
  multistore::acquire_store(
      self, registry, options(id),
      [=](multistore::acquired_store<issue_schema> s) {
        out->acquired = true;
        self->request(s.store, caf::infinite, multistore::commit_atom::value,
                      s.events(issue_created{"i", "from an actor"}))
            .then([=](std::uint64_t seq) { out->seq = seq; },
                  [=](caf::error& err) { out->failed = multistore::to_error(err).code; });
      },
      [=](const multistore::error& err) { out->failed = err.code; });
  return {[](caf::get_atom) {}};
}

/// What member "beta" saw of the store it used.
struct beta_view {
  bool ready = false;
  int updates = 0;
};

/// Member "beta": says hello to `cluster`, then uses `id` through the
/// registry the hello answer named (as a real node's cluster actor does) and
/// subscribes itself to it.
caf::behavior played_client(caf::event_based_actor* self, caf::actor cluster, std::string id,
                            beta_view* view) {
  auto me = caf::actor_cast<caf::actor>(self);
  self->request(cluster, caf::infinite, multistore::hello_atom::value,
                hello_of(two_members("beta")), caf::actor{})
      .then([=](multistore::hello_msg&, caf::actor& registry) {
        multistore::acquire_store(
            self, registry, options(id),
            [=](multistore::acquired_store<issue_schema> s) {
              view->ready = true;
              self->request(s.store, caf::infinite, multistore::subscribe_atom::value,
                            std::string{"SELECT count(*) AS n FROM issues"}, std::string{}, me)
                  .then([](std::uint64_t) {});
            },
            [](const multistore::error&) {});
      });
  return {
      [view](multistore::update_atom, std::uint64_t, std::string&) { ++view->updates; },
  };
}

/// Whether `target` has ended: a monitor set now reports it down at once.
bool ended(multistore::testing::fixture& fx, const caf::actor& target) {
  bool gone = false;
  fx.system().spawn(watcher, target, &gone);
  fx.run();
  return gone;
}

/// Node beta on the fixture, with member alpha played by `played_owner`
/// and joined.
struct beta_node {
  multistore::testing::fixture fx{{.cluster = two_members("beta")}};
  member_log log;
  caf::actor alpha = fx.system().spawn(played_owner, fx.cluster(), &log);
  beta_node() { fx.run(); }
};

/// beta_node holding a handle on a store alpha owns, with a subscription
/// that counts its updates.
struct subscribed_beta : beta_node {
  std::string id = owned_by("alpha");
  multistore::store_handle<issue_schema> h = fx.use(options(id));
  int updates = 0;
  multistore::subscription sub =
      h.subscribe("SELECT 1", [this](const nlohmann::json&) { ++updates; });
  subscribed_beta() { fx.run(); }
};

void lose_link(multistore::testing::fixture& fx, const caf::actor& member) {
  caf::anon_send_exit(member, caf::exit_reason::remote_link_unreachable);
  fx.run();
}

}  // namespace

TEST_CASE(
    "uses of another member's stores go to its registry, and calls to "
    "its store",
    "[actors][cluster]") {
  multistore::testing::fixture fx{{.cluster = two_members("beta")}};
  const auto id = owned_by("alpha");
  CHECK(code_of([&] { (void)fx.use(options(id)); }) == errc::unavailable);  // alpha has not joined

  member_log log;
  auto alpha = fx.system().spawn(played_owner, fx.cluster(), &log);
  fx.run();
  REQUIRE(log.joined);

  auto h = fx.use(options(id));
  REQUIRE(log.acquires.size() == 1);
  CHECK(log.acquires[0].store_id == id);
  CHECK(log.acquires[0].observe);  // the owner monitors this node: its end releases
  CHECK(log.acquires[0].has_gc_time);
  CHECK(log.acquires[0].gc_time_ms == 10'000);
  CHECK(h.commit(issue_created{"i1", "remote"}) == 1);
  CHECK(log.commits == std::vector<std::string>{"issue_created"});
  CHECK(h.query("SELECT 1").empty());

  // Ids this node owns stay here: alpha sees nothing of them.
  auto local = fx.use(options(owned_by("beta")));
  CHECK(local.commit(issue_created{"i2", "local"}) == 1);
  CHECK(log.acquires.size() == 1);

  h.release();
  fx.run();
  CHECK(log.releases == std::vector<std::uint64_t>{1});
  caf::anon_send_exit(alpha, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE(
    "the loss of an owner fails its handles at once and ends their "
    "subscriptions",
    "[actors][cluster]") {
  subscribed_beta node;
  auto& fx = node.fx;
  auto& log = node.log;
  auto& h = node.h;
  const auto& updates = node.updates;
  const auto id = node.id;
  CHECK(updates == 1);
  REQUIRE(log.subscribers.size() == 1);

  log.hold_commits = true;  // a commit in flight when the link is lost
  commit_outcome in_flight;
  fx.system().spawn(committer, fx.registry(), id, &in_flight);
  fx.run();
  REQUIRE(in_flight.acquired);
  REQUIRE(log.held.size() == 1);
  CHECK_FALSE(in_flight.seq);
  CHECK_FALSE(in_flight.failed);

  lose_link(fx, node.alpha);
  CHECK(in_flight.failed == errc::unavailable);
  CHECK(ended(fx, log.subscribers[0]));
  CHECK(code_of([&] {
          (void)h.commit(issue_created{"i1", "after the loss"});
        }) == errc::unavailable);
  CHECK(code_of([&] { (void)h.query("SELECT 1"); }) == errc::unavailable);
  CHECK(code_of([&] { (void)fx.use(options(id)); }) == errc::unavailable);
  // Other stores keep serving.
  auto local = fx.use(options(owned_by("beta")));
  CHECK(local.commit(issue_created{"i2", "local"}) == 1);
}

TEST_CASE(
    "a restarted owner is a new incarnation: old handles stay failed, "
    "new uses work",
    "[actors][cluster]") {
  multistore::testing::fixture fx{{.cluster = two_members("beta")}};
  const auto id = owned_by("alpha");
  member_log first;
  auto alpha = fx.system().spawn(played_owner, fx.cluster(), &first);
  fx.run();
  auto old_handle = fx.use(options(id));
  lose_link(fx, alpha);

  // The restarted owner numbers its leases and instances from 1 again.
  member_log second;
  auto again = fx.system().spawn(played_owner, fx.cluster(), &second);
  fx.run();
  REQUIRE(second.joined);
  auto h = fx.use(options(id));
  CHECK(h.commit(issue_created{"i1", "second run"}) == 1);
  CHECK(code_of([&] {
          (void)old_handle.commit(issue_created{"i0", "first run"});
        }) == errc::unavailable);
  CHECK(first.commits.empty());
  CHECK(second.commits.size() == 1);

  old_handle.release();  // lease 1 of the first run: not lease 1 of the second
  fx.run();
  CHECK(second.releases.empty());
  h.release();
  fx.run();
  CHECK(second.releases == std::vector<std::uint64_t>{1});
  caf::anon_send_exit(again, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE("a client node's loss releases its leases on the owner, and GC proceeds",
          "[actors][cluster]") {
  multistore::testing::fixture fx{{.cluster = two_members("alpha")}};
  const auto id = owned_by("alpha");
  beta_view beta_saw;
  auto beta = fx.system().spawn(played_client, fx.cluster(), id, &beta_saw);
  fx.run();
  REQUIRE(beta_saw.ready);
  CHECK(beta_saw.updates == 1);
  CHECK(fx.inspect(id).state == store_state::active);
  CHECK(fx.inspect(id).observers == 1);

  auto h = fx.use(options(id));
  CHECK(h.commit(issue_created{"i1", "seen by beta"}) == 1);
  fx.run();
  CHECK(beta_saw.updates == 2);
  h.release();
  CHECK(fx.inspect(id).state == store_state::active);  // beta holds it

  lose_link(fx, beta);
  CHECK(fx.inspect(id).state == store_state::inactive);
  CHECK(fx.inspect(id).observers == 0);
  fx.advance(10s);
  CHECK(fx.inspect(id).state == store_state::disposed);
}

TEST_CASE(
    "clear() gives back the leases on other members' stores and cancels "
    "waiting uses",
    "[actors][cluster]") {
  subscribed_beta node;
  auto& fx = node.fx;
  auto& log = node.log;
  auto& h = node.h;
  const auto id = node.id;
  REQUIRE(log.subscribers.size() == 1);

  log.hold_acquires = true;  // a use waiting for the owner's load
  commit_outcome waiting;
  fx.system().spawn(committer, fx.registry(), id, &waiting);
  fx.run();
  REQUIRE(log.held.size() == 1);

  fx.clear();
  CHECK(waiting.failed == errc::cancelled);
  CHECK(log.releases == std::vector<std::uint64_t>{1});
  CHECK(ended(fx, log.subscribers[0]));
  CHECK(code_of([&] {
          (void)h.commit(issue_created{"i1", "after clear"});
        }) == errc::store_disposed);

  // The owner answers the use that was cancelled: its lease goes back.
  caf::anon_send(node.alpha, caf::ok_atom::value);
  fx.run();
  CHECK(log.releases == std::vector<std::uint64_t>{1, 2});
  CHECK_FALSE(waiting.acquired);

  log.hold_acquires = false;  // a later use loads again
  auto again = fx.use(options(id));
  CHECK(again.commit(issue_created{"i2", "after clear"}) == 1);
  caf::anon_send_exit(node.alpha, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE("a commit passed to the owner before clear() gets the owner's answer and later calls fail",
          "[actors][cluster]") {
  // clear() ends this node's handles on remote stores. A commit the stand-in
  // already passed on may be written there: its caller must get the owner's
  // answer, not store_disposed for an event that is in the log.
  subscribed_beta node;
  auto& fx = node.fx;
  auto& log = node.log;
  log.hold_commits = true;
  commit_outcome in_flight;
  fx.system().spawn(committer, fx.registry(), node.id, &in_flight);
  fx.run();
  REQUIRE(in_flight.acquired);
  REQUIRE(log.held.size() == 1);

  fx.clear();
  CHECK_FALSE(in_flight.seq);
  CHECK_FALSE(in_flight.failed);
  // A call made after clear() returned never reaches the owner.
  CHECK(code_of([&] { (void)node.h.commit(issue_created{"i2", "after clear"}); })
        == errc::store_disposed);
  CHECK(log.held.size() == 1);

  caf::anon_send(node.alpha, caf::put_atom::value);
  fx.run();
  CHECK(in_flight.seq == 1);
  CHECK_FALSE(in_flight.failed);
  CHECK(log.commits == std::vector<std::string>{"issue_created"});
  caf::anon_send_exit(node.alpha, caf::exit_reason::user_shutdown);
  fx.run();
}
