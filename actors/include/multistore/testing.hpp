#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "multistore/detail/call.hpp"
#include "multistore/detail/registry_front.hpp"
#include "multistore/options.hpp"
#include "multistore/store_handle.hpp"
#include "multistore/store_info.hpp"

namespace caf {
class actor;
class actor_system;
}  // namespace caf

/// Deterministic testing for code that uses multistore.
namespace multistore::testing {

/// An actor system on CAF's deterministic scheduler with a registry on a
/// virtual clock. Nothing runs on its own: `use`, `preload`, `clear`,
/// `inspect` and `stats` run the scheduler until their answer is there;
/// `advance(d)` moves the clock and runs everything that became due, in
/// order; `run()` handles every pending message. GC timers fire only when the
/// clock is advanced, so a test sees a store disposed at exactly its gc_time.
///
///     multistore::testing::fixture fx;
///     auto h = fx.use(issue_options("issue-1"));       // gc_time 20 s
///     h.release();
///     fx.advance(std::chrono::seconds{20} - 1ms);
///     REQUIRE(fx.inspect("issue-1").state == multistore::store_state::inactive);
///     fx.advance(1ms);
///     REQUIRE(fx.inspect("issue-1").state == multistore::store_state::disposed);
///
/// Handles from a fixture work like any handle (commit and query run the
/// scheduler) and must not outlive it. Single-threaded: use one fixture from
/// one thread. The destructor shuts the registry and every store down.
///
/// With `registry_options::cluster` the fixture is one node of a cluster:
/// uses of the ids other members own go to them (see `cluster()`).
class fixture : public detail::registry_front<fixture> {
 public:
  explicit fixture(registry_options options = {});
  ~fixture();
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  /// Preloads a store and runs the scheduler until the load finished (load
  /// errors are swallowed, as with `store_registry::preload`).
  template <class Schema>
  void preload(const store_options<Schema>& options) {
    preload_call(detail::make_call(options));
  }

  /// Clears the registry and runs until every store is closed.
  void clear();

  store_info inspect(std::string_view store_id) const;
  registry_stats stats() const;
  /// The registry's metrics (store_registry::metrics()).
  std::string metrics() const;

  /// Moves the virtual clock forward by `d`, firing each timer at its own
  /// time point (so timers armed by earlier timers fire too), and runs every
  /// message that became due.
  void advance(gc_duration d);

  /// Runs until no message is pending (does not move the clock).
  void run();

  /// Virtual time elapsed since the fixture started.
  gc_duration elapsed() const;

  /// The registry actor and the actor system, for tests that send messages.
  caf::actor registry() const;
  caf::actor_system& system() const;

  /// With `registry_options::cluster`, the fixture plays the node named
  /// `cluster->self` without a network: this is its cluster actor, which
  /// never dials. A test plays another member with an actor that sends it
  /// `(hello_atom, hello_msg, registry)` (that member's hello: see
  /// multistore/membership.hpp) and answers as that member's registry and
  /// stores; ending that actor with `remote_link_unreachable` is the loss
  /// of the link. Null outside a cluster.
  caf::actor cluster() const;

 private:
  friend class detail::registry_front<fixture>;
  std::shared_ptr<detail::lease> acquire(detail::call call);
  void preload_call(detail::call call);

  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace multistore::testing
