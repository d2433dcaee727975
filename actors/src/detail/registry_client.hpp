#pragma once

#include <future>
#include <memory>
#include <string_view>
#include <vector>

#include "detail/lease.hpp"
#include "detail/requester.hpp"
#include "multistore/cluster_config.hpp"
#include "multistore/detail/call.hpp"
#include "multistore/messages.hpp"
#include "multistore/store_info.hpp"

namespace multistore::detail {

/// The registry as seen from outside the actor system: the one client behind
/// the blocking facade (`store_registry`) and the deterministic fixture, which
/// are thin throwing wrappers over it. Acquires do not observe the caller
/// (leases end by `release`); preload and clear are answered through an actor
/// that fulfils a future, so no thread waits for an answer nobody looks at.
class registry_client {
 public:
  registry_client(std::shared_ptr<const requester> req, caf::actor registry);

  /// In a cluster: uses of ids that other members own go straight to this
  /// node's cluster actor (which the registry would delegate them to), and
  /// so do their releases: two local hops fewer on every remote use.
  void route_remote(caf::actor cluster, std::vector<cluster_member> members,
                    std::string self);

  /// use(): a lease on the loaded store, or why not.
  result<std::shared_ptr<lease>> acquire(call c) const;
  /// preload(): ready once loaded or failed (load errors are swallowed).
  std::future<void> preload(call c) const;
  /// clear(): ready once every store is closed.
  std::future<void> clear() const;
  result<store_info> inspect(std::string_view store_id) const;
  result<registry_stats> stats() const;
  result<std::string> metrics() const;

  const caf::actor& registry() const noexcept { return registry_; }
  const requester& req() const noexcept { return *req_; }

 private:
  std::future<void> ask(bool swallow, caf::message request) const;

  /// Where a use of `store_id` goes: the registry or the cluster actor.
  const registry_actor_type& route(std::string_view store_id) const;

  std::shared_ptr<const requester> req_;
  caf::actor registry_;
  registry_actor_type typed_;
  registry_actor_type cluster_;  ///< speaks the acquire, release and cancel part
  std::vector<cluster_member> members_;
  std::size_t self_index_ = 0;
};

}  // namespace multistore::detail
