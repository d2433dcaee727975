#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "multistore/cluster_config.hpp"
#include "multistore/options.hpp"

namespace spdlog {
class logger;
}

namespace multistore::detail {

/// Leases on stores that other nodes own carry this bit: the cluster actor
/// hands them out, and the registry passes their release on to it.
inline constexpr std::uint64_t remote_lease_bit = std::uint64_t{1} << 63;

/// Spawns this node's cluster actor: it links to every other member, keeps
/// the membership, and carries the calls for stores other nodes own. It
/// starts working once `publish_cluster` gave it the local registry.
caf::actor spawn_cluster(caf::actor_system& sys, const cluster_options& opts,
                         std::shared_ptr<spdlog::logger> log);

/// Hands `registry` to `cluster` and publishes it at this member's host and
/// port (plain TCP or TLS, as `opts` says). Blocks: call outside actors.
/// Throws `store_error{invalid_options}` when the port cannot be bound or
/// the actor system was not configured for the cluster.
void publish_cluster(caf::actor_system& sys, const caf::actor& cluster, const caf::actor& registry,
                     const cluster_options& opts);

/// A registry actor that routes the ids other members own to `cluster`.
caf::actor spawn_cluster_registry(caf::actor_system& sys, registry_options options,
                                  std::shared_ptr<spdlog::logger> log, caf::actor cluster);

}  // namespace multistore::detail
