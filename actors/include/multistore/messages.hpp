#pragma once

// The registry's and the stores' message protocols, in one place: atoms,
// message structs, their `inspect` overloads and the typed interfaces. This
// header and system_setup.cpp are where CAF 0.17's spelling of messages lives;
// a move to another CAF version touches them and little else.
//
// Every message is made of ids, strings, JSON text, numbers and actor handles,
// so it can cross CAF's middleman.

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "multistore/detail/call.hpp"
#include "multistore/options.hpp"
#include "multistore/store_info.hpp"

namespace multistore {

// -- atoms (both protocols; their meaning is documented with each protocol) ---------

using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using preload_atom = caf::atom_constant<caf::atom("preload")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using clear_atom = caf::atom_constant<caf::atom("clear")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// Devtools and metrics: the registry's listing, a store without a lease,
/// and the Prometheus text.
using list_atom = caf::atom_constant<caf::atom("list")>;
using peek_atom = caf::atom_constant<caf::atom("peek")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// To the registry: stop taking work, close every store, then answer.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
/// The registry to itself: a GC timer fired.
using gc_atom = caf::atom_constant<caf::atom("gc")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
/// The registry to a new store: open the engine and boot, then answer ok.
using open_atom = caf::atom_constant<caf::atom("open")>;
/// The registry to a store: close (the registry hears it through the down message).
using close_atom = caf::atom_constant<caf::atom("close")>;
/// A store to itself: start the work it queued while more messages waited
/// (so that a burst of commits in its mailbox goes as one transaction).
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// To a store from its I/O thread: the engine work it posted is done.
using io_done_atom = caf::atom_constant<caf::atom("io_done")>;

/// Cluster: a node's hello to a peer (answered with the peer's hello and its
/// registry), the cluster actor's retry tick, and the member list it reports.
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using members_atom = caf::atom_constant<caf::atom("members")>;

/// A message struct: `wire_name`, and `wire_fields()` tying its members in
/// wire order. CAF serializes every such struct through the one `inspect`
/// below, and system_setup registers it under its `wire_name`.
template <class T>
concept wire_struct = requires(T& x) {
  T::wire_name;
  x.wire_fields();
};

template <class Inspector, wire_struct T>
typename Inspector::result_type inspect(Inspector& f, T& x) {
  return std::apply(
      [&](auto&... fields) { return f(caf::meta::type_name(T::wire_name), fields...); },
      x.wire_fields());
}

// -- the registry ---------------------------------------------------------------------

/// The registry actor's protocol:
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
/// | (metrics_atom)                           | std::string: Prometheus text (see metrics.hpp) |
/// | (list_atom)                              | std::string: JSON array, one object per store this node holds (README, devtools) |
/// | (list_atom, std::string store_id)        | std::string: JSON object, that store's row of the list; `store_disposed` when this node does not hold it |
/// | (peek_atom, std::string store_id)        | (caf::actor store, bool disable_devtools) of a loaded store, no lease taken; `store_disposed` when it is not loaded here |
///
/// Errors are `caf::error`s of the "multistore" category whose code is an
/// `errc` and whose context holds the message (see `to_error`).
///
/// The sender of an acquire becomes the lease's observer when
/// `store_request::observe` is true: the registry monitors it and its death
/// releases its leases. Blocking callers (whose sender is a short-lived
/// scoped actor) set it to false and release explicitly.
///
/// Message types follow; `registry_actor_type` below states the interface.

/// store_info on the wire.
struct store_info_msg {
  std::uint8_t state = static_cast<std::uint8_t>(store_state::disposed);
  std::uint64_t observers = 0;
  std::int64_t gc_time_ms = 0;
  std::uint64_t loads = 0;
  bool has_gc_remaining = false;
  std::int64_t gc_remaining_ms = 0;

  static constexpr const char* wire_name = "multistore::store_info_msg";
  auto wire_fields() {
    return std::tie(state, observers, gc_time_ms, loads, has_gc_remaining, gc_remaining_ms);
  }
};

/// registry_stats on the wire.
struct stats_msg {
  std::uint64_t loading = 0, active = 0, inactive = 0, closing = 0, queued = 0, leases = 0,
                waiting = 0, pending_timers = 0, loads = 0, load_failures = 0, disposals = 0,
                evictions = 0;

  static constexpr const char* wire_name = "multistore::stats_msg";
  auto wire_fields() {
    return std::tie(loading, active, inactive, closing, queued, leases, waiting, pending_timers,
                    loads, load_failures, disposals, evictions);
  }
};

store_info_msg to_msg(const store_info& info);
store_info from_msg(const store_info_msg& msg);
stats_msg to_msg(const registry_stats& stats);
registry_stats from_msg(const stats_msg& msg);

/// The registry actor's interface. `store_registry::actor()` hands it out as
/// a `caf::actor`; `caf::actor_cast<registry_actor_type>` gives it back.
using registry_actor_type = caf::typed_actor<
    caf::replies_to<acquire_atom, store_request>::with<caf::actor, std::uint64_t, std::uint64_t>,
    caf::replies_to<preload_atom, store_request>::with<caf::ok_atom>,
    caf::reacts_to<release_atom, std::uint64_t>,
    caf::replies_to<clear_atom>::with<caf::ok_atom>,
    caf::replies_to<inspect_atom, std::string>::with<store_info_msg>,
    caf::replies_to<stats_atom>::with<stats_msg>,
    caf::reacts_to<cancel_atom, std::uint64_t>,
    caf::replies_to<shutdown_atom>::with<caf::ok_atom>,
    caf::reacts_to<gc_atom, std::string, std::uint64_t>,
    caf::replies_to<metrics_atom>::with<std::string>,
    caf::replies_to<list_atom>::with<std::string>,
    caf::replies_to<list_atom, std::string>::with<std::string>,
    caf::replies_to<peek_atom, std::string>::with<caf::actor, bool>>;

// -- a store --------------------------------------------------------------------------

/// A store actor's protocol. A store actor owns one store engine; the registry
/// spawns it, opens it and closes it. Everyone else gets its handle from an
/// acquire and talks to it directly:
///
/// | request                                              | answer                     |
/// |------------------------------------------------------|----------------------------|
/// | (commit_atom, std::vector<wire_event>)               | uint64 last sequence number, once durable |
/// | (query_atom, std::string sql, std::string params)    | std::string rows (JSON array text) |
/// | (subscribe_atom, std::string sql, std::string params, caf::actor subscriber) | uint64 subscription id |
/// | (unsubscribe_atom, uint64 id)                        | none (send)                |
/// | (caf::get_atom)                                      | (std::string store_id, uint64 head) |
/// | (inspect_atom)                                       | std::string: JSON {id, schema, head, tables, subscription_queries [{id, sql}], pending_commits} |
/// | (close_atom)                                         | none: finishes what it was sent before, closes its engine and exits |
///
/// `params` is a JSON array text of bound parameters (null, bool, number,
/// string, {"$blob": hex}); "" means none. A subscriber receives
/// (update_atom, uint64 id, std::string rows) first at once, then after each
/// commit that changed the result. Subscriptions end when the subscriber dies.
/// The store does its SQLite work on the registry's I/O threads, one
/// operation at a time and in mailbox order. Commits that arrive while a
/// transaction is being written queue up and go together as the next one
/// (group commit); each is still answered on its own, all or nothing, once
/// durable. A store holds at most `registry_options::max_pending_commits`
/// commits not yet answered; one more is refused at once with `overloaded`.
/// Errors: `invalid_event`, `storage_failed`, `query_failed`, `overloaded`;
/// after close, `store_disposed`; a dead store answers with CAF's own
/// "receiver down", which the facade reports as `store_disposed`.
///
/// The message type follows; `store_actor_type` below states the interface.

/// One event as it travels: its name and its JSON arguments as text, which is
/// also what the log stores.
struct wire_event {
  std::string name;
  std::string args;

  static constexpr const char* wire_name = "multistore::wire_event";
  auto wire_fields() { return std::tie(name, args); }
};

/// A store actor's interface.
using store_actor_type = caf::typed_actor<
    caf::replies_to<open_atom>::with<caf::ok_atom>,
    caf::replies_to<commit_atom, std::vector<wire_event>>::with<std::uint64_t>,
    caf::replies_to<query_atom, std::string, std::string>::with<std::string>,
    caf::replies_to<subscribe_atom, std::string, std::string, caf::actor>::with<std::uint64_t>,
    caf::reacts_to<unsubscribe_atom, std::uint64_t>,
    caf::replies_to<caf::get_atom>::with<std::string, std::uint64_t>,
    caf::replies_to<inspect_atom>::with<std::string>,
    caf::reacts_to<close_atom>,
    caf::reacts_to<flush_atom>,
    caf::reacts_to<io_done_atom>>;

// -- the cluster ------------------------------------------------------------------------

/// The cluster actors' protocol (one per node, published at the member's
/// host and port; see cluster_actor.cpp). The member whose name sorts first
/// dials the other and sends (hello_atom, hello_msg, caf::actor registry);
/// the answer is (hello_msg, caf::actor registry). Each then monitors the other's cluster
/// actor: its down message is the link's loss. For a store another node
/// owns, the local registry delegates acquire, preload and inspect to its
/// cluster actor, which asks the owner's registry.

/// `multistore::hello` on the wire.
struct hello_msg {
  std::string cluster;
  std::uint64_t members_digest = 0;
  std::uint32_t protocol_version = 0;
  std::string member;

  static constexpr const char* wire_name = "multistore::hello_msg";
  auto wire_fields() { return std::tie(cluster, members_digest, protocol_version, member); }
};

/// One member as `store_registry::members()` reports it (local only).
struct member_status_msg {
  std::string name;
  bool up = false;
  std::int64_t since_ms = 0;  ///< system_clock milliseconds since the epoch

  static constexpr const char* wire_name = "multistore::member_status_msg";
  auto wire_fields() { return std::tie(name, up, since_ms); }
};

}  // namespace multistore
