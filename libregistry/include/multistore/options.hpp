#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "multistore/abort_signal.hpp"
#include "multistore/cluster_config.hpp"
#include "multistore/errors.hpp"

namespace multistore {

/// How long an unobserved store stays loaded.
using gc_duration = std::chrono::milliseconds;

/// Never dispose (LiveStore's `Infinity`). Sticky: once any caller asked for
/// it, the loaded instance is kept until clear() or shutdown.
inline constexpr gc_duration gc_never = gc_duration::max();

/// gc_time when neither the call nor the registry sets one (and not in server mode).
inline constexpr gc_duration default_gc_time = std::chrono::seconds{60};

/// SQLite `:memory:` storage: fast, and gone when the store is disposed.
struct memory_adapter {
  friend bool operator==(const memory_adapter&, const memory_adapter&) = default;
};

/// How hard a file store pushes each commit to disk.
enum class sync_level : std::uint8_t {
  /// WAL with `synchronous=NORMAL`: a commit survives a crash of the process;
  /// the last commits may be lost if the machine itself loses power.
  normal = 1,
  /// WAL with `synchronous=FULL`: a commit is fsynced before it is acknowledged
  /// and survives power loss, at the price of one fsync per transaction.
  full,
};

std::string_view to_string(sync_level level) noexcept;

/// One SQLite file per store: `<directory>/<store_id>.sqlite`, created with its
/// directory when missing. WAL journal; see `sync_level` for durability.
struct sqlite_adapter {
  std::filesystem::path directory;
  sync_level synchronous = sync_level::normal;

  friend bool operator==(const sqlite_adapter&, const sqlite_adapter&) = default;
};

/// Where a store keeps its database.
using adapter = std::variant<memory_adapter, sqlite_adapter>;

template <class Schema>
class store;

/// Describes one store (LiveStore's `storeOptions()`); written with designated
/// initialisers:
///
///     multistore::store_options<issue_schema> opts{
///         .store_id = "issue-42",
///         .storage = multistore::sqlite_adapter{"data"},
///         .gc_time = std::chrono::seconds{20}};
///
/// Options left empty take the registry's defaults (see `resolve_options`).
template <class Schema>
struct store_options {
  std::string store_id;
  adapter storage = memory_adapter{};
  std::optional<gc_duration> gc_time;
  /// Runs once per loaded instance, before anyone is handed the store. A throw
  /// is a load error.
  std::function<void(store<Schema>&)> boot;
  nlohmann::json sync_payload;
  std::optional<bool> disable_devtools;
  std::optional<bool> confirm_unsaved_changes;
  nlohmann::json debug;
  /// Cancels this caller's wait (`errc::cancelled`); the load itself goes on
  /// for other waiters.
  abort_signal signal;
};

/// The registry's defaults (the seed's `defaultOptions`).
struct store_defaults {
  std::optional<gc_duration> gc_time;
  nlohmann::json sync_payload;
  std::optional<bool> disable_devtools;
  std::optional<bool> confirm_unsaved_changes;
  nlohmann::json debug;
  /// Registry only: deliver subscription updates once per commit batch.
  std::optional<bool> batch_updates;
};

/// The default of `registry_options::max_open_stores`.
inline constexpr std::size_t default_max_open_stores = 4096;

/// The default bound on a store's commits not yet answered.
inline constexpr std::size_t default_max_pending_commits = 10000;

struct registry_options {
  store_defaults default_options;
  /// Server mode: the default gc_time is `gc_never` (the seed's SSR rule).
  bool server = false;
  /// Most stores open at once (loading, loaded or closing); 0: no limit. A
  /// load beyond it first disposes inactive stores, least recently used
  /// first (`gc_never` ones too: nothing is lost, the next use reloads), and
  /// waits for them to close; when every open store is observed or loading,
  /// it fails with `load_failed`. A file store holds three file descriptors
  /// (its lock, database and WAL files) and about 135 KiB: size it to the
  /// process's RLIMIT_NOFILE and memory.
  std::size_t max_open_stores = default_max_open_stores;
  /// Threads that run the stores' SQLite work (open, replay, boot, commits,
  /// queries, subscription re-runs, close), off CAF's scheduler: a store
  /// that fsyncs or replays a long log never holds up the registry or
  /// another store. Each store uses at most one at a time. 0: twice the
  /// core count, at least 2 and at most 16 (the work mostly waits on the
  /// disk). The deterministic fixture runs the same work inline.
  std::size_t io_threads = 0;
  /// Commits a store holds not yet answered (queued or being written); one
  /// more fails at once with `errc::overloaded` and nothing of it is
  /// written. At least 1.
  std::size_t max_pending_commits = default_max_pending_commits;
  /// Set: this registry is one node of a cluster (multistore/cluster.hpp).
  /// It owns the stores whose ids place on `cluster->self` and routes every
  /// other id to its owner. The actor system must have been configured with
  /// `configure(cfg, cluster_options)`.
  std::optional<cluster_options> cluster;
};

/// The schema-independent part of a call's `store_options`: what the option
/// layers act on. `store_options<S>` converts to it with `call_options_of`.
struct call_options {
  std::string store_id;
  adapter storage;
  std::optional<gc_duration> gc_time;
  nlohmann::json sync_payload;
  std::optional<bool> disable_devtools;
  std::optional<bool> confirm_unsaved_changes;
  nlohmann::json debug;
};

template <class Schema>
call_options call_options_of(const store_options<Schema>& o) {
  return call_options{o.store_id,         o.storage,
                      o.gc_time,          o.sync_payload,
                      o.disable_devtools, o.confirm_unsaved_changes,
                      o.debug};
}

/// A call's effective options after the layers were applied.
struct resolved_options {
  std::string store_id;
  adapter storage;
  gc_duration gc_time;
  nlohmann::json sync_payload;
  bool disable_devtools = false;
  bool confirm_unsaved_changes = false;
  nlohmann::json debug;
  bool batch_updates = false;
};

/// The gc_time a call gets when it sets none: the registry default, else
/// `gc_never` in server mode, else `default_gc_time`.
gc_duration fallback_gc_time(const registry_options& registry) noexcept;

/// The gc_time of one call (DESIGN.md §4): the call's own, else the fallback.
/// Every path of the registry takes a call's gc_time from here.
inline gc_duration call_gc_time(const std::optional<gc_duration>& call,
                                const registry_options& registry) noexcept {
  return call ? *call : fallback_gc_time(registry);
}

/// Checks the registry's own options: a negative default gc_time or a
/// `max_pending_commits` of 0 is `errc::invalid_options`.
result<void> validate(const registry_options& options);

/// Checks a call's options on their own: the store id (`invalid_store_id`), a
/// negative gc_time or a file adapter without a directory (`invalid_options`).
result<void> validate(const call_options& options);

/// The same rule on the fields it reads, for a call still in its wire form
/// (`sqlite_directory` is nullopt for a memory store). validate(call_options)
/// is this function: every path checks a call here.
result<void> validate_call(std::string_view store_id, const std::optional<gc_duration>& gc_time,
                           std::optional<std::string_view> sqlite_directory);

/// Applies the option layers (DESIGN.md §4) and validates the outcome:
/// - gc_time, sync_payload, disable_devtools, confirm_unsaved_changes: the call
///   replaces the registry default; gc_time falls back to `gc_never` in server
///   mode and to `default_gc_time` otherwise;
/// - debug: deep merge of the default and the call, the call winning per key;
/// - batch_updates: registry only;
/// - store_id and storage: call only (boot, schema and signal stay with the caller).
result<resolved_options> resolve_options(const call_options& call, const registry_options& registry);

template <class Schema>
result<resolved_options> resolve_options(const store_options<Schema>& call,
                                         const registry_options& registry) {
  return resolve_options(call_options_of(call), registry);
}

}  // namespace multistore
