#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "multistore/options.hpp"
#include "multistore/store_info.hpp"

namespace spdlog {
class logger;
}

/// The registry actor's message protocol. Every message is made of ids,
/// strings, JSON text and numbers, so it can cross CAF's middleman.
///
/// | request                                  | answer                                    |
/// |------------------------------------------|-------------------------------------------|
/// | (acquire_atom, store_request)            | (caf::actor store, uint64 lease, uint64 instance) |
/// | (preload_atom, store_request)            | ok_atom, or an error (callers may ignore it) |
/// | (release_atom, uint64 lease)             | none (send, not request)                  |
/// | (clear_atom)                             | ok_atom once every store is closed         |
/// | (inspect_atom, std::string store_id)     | store_info_msg                            |
/// | (stats_atom)                             | stats_msg                                 |
/// | (cancel_atom, uint64 cancel_token)       | none: the waiting call with that token fails with `cancelled` |
/// | (shutdown_atom)                          | ok_atom once every store is closed; later calls fail with registry_closed |
///
/// Errors are `caf::error`s of the "multistore" category whose code is an
/// `errc` and whose context holds the message (see `to_error`).
///
/// The sender of an acquire becomes the lease's observer when
/// `store_request::observe` is true: the registry monitors it and its death
/// releases its leases. Blocking callers (whose sender is a short-lived
/// scoped actor) set it to false and release explicitly.
namespace multistore {

using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using preload_atom = caf::atom_constant<caf::atom("preload")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using clear_atom = caf::atom_constant<caf::atom("clear")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using gc_atom = caf::atom_constant<caf::atom("gc")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;

/// A use() or preload() call as a message: the call's options before the
/// registry's layers are applied (the registry resolves them).
struct store_request {
  std::string store_id;
  std::string schema;  ///< a key from detail::register_schema: "name#hash"
  bool file = false;      ///< false: memory_adapter; true: sqlite_adapter{directory}
  std::string directory;
  std::uint8_t synchronous = static_cast<std::uint8_t>(sync_level::normal);
  bool has_gc_time = false;
  std::int64_t gc_time_ms = 0;
  std::string sync_payload;  ///< JSON text, empty when unset
  std::string debug;         ///< JSON text, empty when unset
  std::int8_t disable_devtools = -1;  ///< -1 unset, 0 false, 1 true
  std::int8_t confirm_unsaved_changes = -1;
  std::uint64_t boot = 0;  ///< token from detail::stash_boot; 0 for none
  bool observe = true;
  std::uint64_t cancel_token = 0;  ///< lets (cancel_atom, token) abort this wait; 0: none
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_request& x) {
  return f(caf::meta::type_name("multistore::store_request"), x.store_id, x.schema, x.file,
           x.directory, x.synchronous, x.has_gc_time, x.gc_time_ms, x.sync_payload, x.debug,
           x.disable_devtools, x.confirm_unsaved_changes, x.boot, x.observe, x.cancel_token);
}

/// store_info on the wire.
struct store_info_msg {
  std::uint8_t state = static_cast<std::uint8_t>(store_state::disposed);
  std::uint64_t observers = 0;
  std::int64_t gc_time_ms = 0;
  std::uint64_t loads = 0;
  bool has_gc_remaining = false;
  std::int64_t gc_remaining_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_info_msg& x) {
  return f(caf::meta::type_name("multistore::store_info_msg"), x.state, x.observers,
           x.gc_time_ms, x.loads, x.has_gc_remaining, x.gc_remaining_ms);
}

/// registry_stats on the wire.
struct stats_msg {
  std::uint64_t loading = 0, active = 0, inactive = 0, closing = 0, queued = 0, leases = 0,
                waiting = 0, pending_timers = 0, loads = 0, load_failures = 0, disposals = 0,
                evictions = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats_msg& x) {
  return f(caf::meta::type_name("multistore::stats_msg"), x.loading, x.active, x.inactive,
           x.closing, x.queued, x.leases, x.waiting, x.pending_timers, x.loads,
           x.load_failures, x.disposals, x.evictions);
}

store_request to_request(const call_options& options, const std::string& schema,
                         std::uint64_t boot, bool observe);
call_options to_call_options(const store_request& request);
store_info_msg to_msg(const store_info& info);
store_info from_msg(const store_info_msg& msg);
stats_msg to_msg(const registry_stats& stats);
registry_stats from_msg(const stats_msg& msg);

/// A registry or store actor's error as the core's error value: multistore's
/// own keep code and message; a dead receiver becomes `gone`.
error to_error(const caf::error& err, errc gone = errc::store_disposed);

/// Spawns a registry actor. Validate `options` first (`validate`); the actor
/// logs through `logger` (default: spdlog's default logger).
caf::actor spawn_registry(caf::actor_system& sys, registry_options options,
                          std::shared_ptr<spdlog::logger> logger = nullptr);

}  // namespace multistore
