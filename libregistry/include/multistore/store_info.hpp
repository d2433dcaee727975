#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "multistore/options.hpp"

namespace multistore {

/// The lifecycle phase of a store id in a registry.
enum class store_state : std::uint8_t {
  loading = 1,  ///< a load is in flight (or queued behind the old instance closing)
  active,       ///< loaded, at least one observer
  inactive,     ///< loaded, no observer, one GC timer pending (unless gc_never)
  disposed,     ///< not loaded: never was, disposed, closing, or cleared
};

std::string_view to_string(store_state state) noexcept;

/// What a registry knows about one store id.
struct store_info {
  store_state state = store_state::disposed;
  /// Observers, counted as leases: one per `use()` handle or actor acquire
  /// (an actor that acquires twice counts twice), including callers still
  /// waiting for the load. (The lifecycle machine's `observer_id` names the
  /// party that holds leases, whose death ends them all.)
  std::size_t observers = 0;
  /// The entry's effective gc_time: the maximum over every call of this
  /// instance's lifetime; 0 when not loaded.
  gc_duration gc_time{0};
  /// Instances created so far for this id (loads started).
  std::uint64_t loads = 0;
  /// When inactive with a finite gc_time: time left until disposal.
  std::optional<gc_duration> gc_remaining;
};

/// Registry-wide counters.
struct registry_stats {
  std::size_t loading = 0;
  std::size_t active = 0;
  std::size_t inactive = 0;
  std::size_t closing = 0;          ///< shut down requested, file not yet closed
  std::size_t queued = 0;           ///< loads waiting for a slot under the open-store limit
  std::size_t leases = 0;           ///< observer leases held, waiting callers included
  std::size_t waiting = 0;          ///< calls (use/preload) waiting for a load
  std::size_t pending_timers = 0;   ///< GC timers armed and not yet fired
  std::uint64_t loads = 0;          ///< loads started
  std::uint64_t load_failures = 0;  ///< loads that failed (errors, boot throws, over the limit)
  std::uint64_t disposals = 0;      ///< instances shut down by GC, eviction, clear or shutdown
  std::uint64_t evictions = 0;      ///< inactive stores disposed early to stay under the limit
};

}  // namespace multistore
