#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "detail/io_executor.hpp"
#include "multistore/detail/call.hpp"
#include "multistore/messages.hpp"
#include "multistore/metrics.hpp"
#include "multistore/options.hpp"
#include "multistore/schema.hpp"

namespace spdlog {
class logger;
}

namespace multistore::detail {

/// What a store actor needs to open its engine. The store keeps its effective
/// options: the storage it opens, and what the adapter and the subscriptions
/// are handed (sync_payload, batch_updates).
struct store_spawn_args {
  const schema_def* schema = nullptr;
  resolved_options options;
  std::string session_id;
  std::string client_id;  ///< for memory stores; file stores read <dir>/.client-id
  boot_fn boot;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<io_executor> io;  ///< where the engine work runs
  std::size_t max_pending_commits = default_max_pending_commits;
  std::shared_ptr<registry_metrics> metrics;  ///< the registry's, shared by its stores
  std::shared_ptr<store_gauges> gauges;       ///< this store's, which the registry lists
};

/// Spawns a store actor; it opens its engine on (open_atom) and answers ok
/// or the load error (after which it exits).
store_actor_type spawn_store(caf::actor_system& sys, store_spawn_args args);

}  // namespace multistore::detail
