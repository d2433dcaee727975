#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/schema.hpp"
#include "multistore/sql_value.hpp"
#include "multistore/subscription.hpp"

namespace multistore {

/// An event as the engine takes it: the event type's name and its arguments
/// as JSON (what `to_json` of the event type produces).
struct event_record {
  std::string name;
  nlohmann::json args;
  /// `args` as JSON text when the caller has it already (the store actor gets
  /// events as text): the log stores this text as it is instead of writing
  /// `args` out again. Empty: the log stores `args.dump()`.
  std::string args_text = {};
};

/// An event as the log holds it.
struct stored_event {
  std::uint64_t seq;
  std::string name;
  nlohmann::json args;
  std::string client_id;
  std::string session_id;
  /// Milliseconds since the Unix epoch (system clock) when it was committed.
  std::int64_t time_ms;
};

/// Recorded with every event the engine commits.
struct store_identity {
  std::string client_id;
  std::string session_id;
};

/// One event-sourced SQLite store: an append-only event log (`__events`) plus
/// the schema's state tables, kept up to date by the schema's materializers.
///
///     auto engine = multistore::store_engine::open(multistore::schema_of<issue_schema>(),
///                                                  "issue-42", multistore::sqlite_adapter{"data"},
///                                                  {client_id, session_id});
///     if (!engine) return forward_error(engine);
///     multistore::event_record e{"issue_created", {{"id", "1"}, {"title", "crash"}}};
///     auto seq = (*engine)->commit(std::span{&e, 1});
///     auto rows = (*engine)->query("SELECT title FROM issues WHERE id = ?",
///                                  std::vector<multistore::sql_value>{std::string{"1"}});
///     (*engine)->close();
///
/// A file store (`sqlite_adapter`) is `<directory>/<store_id>.sqlite` in WAL
/// mode, held with an exclusive lock from open to close: a second open of
/// the same file, in this process or another, fails with `errc::load_failed`.
/// When the schema's hash differs from the one the file was built with, the
/// state tables are dropped, recreated and rebuilt by replaying the log.
///
/// Threading: not thread-safe. One owner (one actor) calls it, one call at a
/// time; consecutive calls may come from different threads. Subscription
/// callbacks run inside commit() on the caller's thread.
class store_engine {
 public:
  using subscriber = std::function<void(const nlohmann::json&)>;

  /// Opens the store `store_id` (validated first: `errc::invalid_store_id`
  /// before any path is built), creating it when missing and migrating it
  /// when the schema changed. Errors: invalid_store_id; invalid_options (a
  /// file adapter without a directory); load_failed (cannot create, open or
  /// lock the file — "is in use" when another instance holds it — or the file
  /// is not a multistore store); schema_mismatch (the log holds events the
  /// schema does not know, or replaying it under the new schema fails; the
  /// file is left as it was).
  static result<std::unique_ptr<store_engine>> open(const schema_def& schema,
                                                    std::string_view store_id,
                                                    const adapter& storage,
                                                    store_identity identity);

  store_engine(const store_engine&) = delete;
  store_engine& operator=(const store_engine&) = delete;
  /// Closes if still open.
  ~store_engine();

  const std::string& store_id() const noexcept;
  const schema_def& schema() const noexcept;

  /// Appends `events` and runs their materializers in one transaction: all or
  /// nothing, returned only after the transaction committed. Returns the
  /// sequence number of the last event (the head; unchanged for no events).
  /// Errors leave log and state exactly as before: invalid_event (unknown
  /// name, arguments that do not decode), storage_failed (a materializer threw
  /// or broke a constraint, or SQLite failed), store_disposed.
  result<std::uint64_t> commit(std::span<const event_record> events);

  /// Group commit: commits independent `batches` in one transaction, so that
  /// many small commits share one write of the log. Each batch is all or
  /// nothing on its own, exactly as if passed to commit() in this order: a
  /// batch that fails is rolled back alone (a savepoint) and the others
  /// stand. Results come back in order, each after the transaction
  /// committed; when the transaction itself fails, or SQLite rolls it back
  /// (out of memory or disk), every batch reports that error and nothing was
  /// written. Subscriptions are notified once, after the transaction.
  std::vector<result<std::uint64_t>> commit_group(
      std::span<const std::span<const event_record>> batches);

  /// Runs a read-only statement with `params` bound to its `?` in order; rows
  /// come back as a JSON array of {column: value} objects (blobs as
  /// {"$blob": "<hex>"}). A statement that would write, ATTACH, control
  /// transactions or set a PRAGMA, a parameter count mismatch, or any SQLite
  /// error is `errc::query_failed` with SQLite's message. Statements are
  /// cached per SQL text.
  result<nlohmann::json> query(std::string_view sql, std::span<const sql_value> params = {});

  /// Calls `fn` with the query's result before returning, then again after
  /// each commit that wrote a table the query reads and changed its result.
  /// The subscription ends when the returned object is destroyed or
  /// cancelled (on the engine's thread); it may outlive the engine. Errors as
  /// for query(). An exception from the first call propagates (nothing is
  /// subscribed); exceptions from later calls are swallowed, the commit that
  /// triggered them stands.
  result<subscription> subscribe(std::string sql, std::vector<sql_value> params, subscriber fn);

  /// Events with a sequence number above `after_seq`, oldest first, at most `limit`.
  result<std::vector<stored_event>> read_events(std::uint64_t after_seq = 0,
                                                std::size_t limit = SIZE_MAX) const;

  /// The last sequence number; 0 when the log is empty.
  std::uint64_t head() const noexcept;

  /// Ends subscriptions, finalizes statements, checkpoints the WAL
  /// (TRUNCATE), closes the database and releases the file lock. Idempotent;
  /// afterwards every call fails with `errc::store_disposed`.
  void close() noexcept;
  bool is_open() const noexcept;

 private:
  struct impl;
  explicit store_engine(std::unique_ptr<impl> state) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace multistore
