// Actors using the registry through messages (multistore/actor_api.hpp).
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "multistore/actor_api.hpp"
#include "multistore/testing.hpp"
#include "schemas.hpp"

using namespace std::chrono_literals;
using multistore::store_options;
using multistore::store_state;
using test_schemas::issue_created;
using test_schemas::issue_schema;

namespace {

struct outcome {
  int ready = 0;
  int failed = 0;
  std::uint64_t last_seq = 0;
};

/// Acquires `id`, commits one event, and then either releases or keeps its
/// lease until it dies.
caf::behavior client(caf::event_based_actor* self, caf::actor registry, std::string id,
                     outcome* out, bool release) {
  multistore::acquire_store(
      self, registry, store_options<issue_schema>{.store_id = id, .gc_time = 10s},
      [=](multistore::acquired_store<issue_schema> s) {
        ++out->ready;
        self->request(s.store, caf::infinite, multistore::commit_atom::value,
                      s.events(issue_created{std::to_string(self->id()), "from an actor"}))
            .then([=](std::uint64_t seq) {
              out->last_seq = std::max(out->last_seq, seq);
              if (release)
                multistore::release_store(self, registry, s);
            });
      },
      [=](const multistore::error&) { ++out->failed; });
  return {[](caf::get_atom) {}};
}

}  // namespace

TEST_CASE("concurrent acquires from many actors share one load", "[actors]") {
  multistore::testing::fixture fx;
  outcome out;
  std::vector<caf::actor> clients;
  for (int i = 0; i < 50; ++i)
    clients.push_back(fx.system().spawn(client, fx.registry(), "shared", &out, true));
  fx.run();
  CHECK(out.ready == 50);
  CHECK(out.failed == 0);
  CHECK(out.last_seq == 50);
  CHECK(fx.inspect("shared").loads == 1);
  CHECK(fx.inspect("shared").state == store_state::inactive);
  for (auto& c : clients)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  fx.run();
}

TEST_CASE("an observer's death releases its leases", "[actors]") {
  multistore::testing::fixture fx;
  outcome out;
  auto a = fx.system().spawn(client, fx.registry(), "s1", &out, false);
  auto b = fx.system().spawn(client, fx.registry(), "s2", &out, false);
  fx.run();
  CHECK(fx.inspect("s1").state == store_state::active);
  CHECK(fx.inspect("s2").state == store_state::active);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  fx.run();
  CHECK(fx.inspect("s1").state == store_state::inactive);
  CHECK(fx.inspect("s2").state == store_state::active);
  caf::anon_send_exit(b, caf::exit_reason::kill);
  fx.run();
  CHECK(fx.inspect("s2").state == store_state::inactive);
  fx.advance(10s);
  CHECK(fx.stats().inactive == 0);
  CHECK(fx.stats().disposals == 2);
}
