#pragma once

// store_engine::impl, the state the engine's files share. One concept each:
// engine.cpp opens, migrates, replays and closes; authorizer.cpp decides what
// user SQL may do; commit.cpp appends events and runs materializers;
// query.cpp runs queries and reads the log; subscriptions.cpp re-runs
// subscribed queries after a commit.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "multistore/sqlite/connection.hpp"
#include "multistore/sqlite/file_lock.hpp"
#include "multistore/store_engine.hpp"

namespace multistore {

namespace detail {

/// A subscribed query: its statement, parameters, the tables it reads and
/// the result its subscriber saw last.
struct subscription_entry {
  sqlite::statement st;
  std::vector<sql_value> params;
  std::vector<std::uint32_t> tables;
  nlohmann::json last;
  std::shared_ptr<const store_engine::subscriber> fn;
};

/// Shared with the cancel functions of `subscription` objects through a
/// weak_ptr, so a subscription can outlive the engine.
struct subscription_set {
  std::map<std::uint64_t, subscription_entry> entries;
  std::uint64_t next_id = 1;
};

/// What the authorizer does while a statement is being prepared.
enum class prepare_mode : std::uint8_t {
  trusted,  ///< the engine's own SQL and the schema's CREATE statements
  query,    ///< user queries: read-only, record the tables read
  write,    ///< materializer statements: rows only, record the tables written
};

inline std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline tl::unexpected<error> disposed(const std::string& store_id) {
  return fail(errc::store_disposed, "store '" + store_id + "' is closed");
}

}  // namespace detail

struct store_engine::impl final : detail::write_context {
  const schema_def* schema = nullptr;
  std::string store_id;
  store_identity identity;
  bool file_backed = false;
  sync_level synchronous = sync_level::normal;
  sqlite::file_lock lock;
  sqlite::connection db;
  bool open = false;
  std::uint64_t head = 0;

  sqlite::statement insert_event;
  sqlite::statement select_events;
  std::shared_ptr<detail::subscription_set> subscriptions =
      std::make_shared<detail::subscription_set>();

  // The table catalog: every table a statement touched, by lowercase name.
  std::unordered_map<std::string, std::uint32_t, detail::string_hash, std::equal_to<>> table_ids;
  std::vector<std::uint8_t> dirty;           // by table id, during a commit
  std::vector<std::uint32_t> dirty_tables;   // the ids set in `dirty`
  std::uint32_t events_table = 0;

  // Authorizer state while preparing.
  detail::prepare_mode mode = detail::prepare_mode::trusted;
  std::vector<std::uint32_t>* captured = nullptr;
  std::string refused;

  ~impl() { close(); }

  // -- table catalog ----------------------------------------------------------

  std::uint32_t table_id(std::string_view name) {
    auto key = detail::lowercase(name);
    if (auto it = table_ids.find(key); it != table_ids.end())
      return it->second;
    auto id = static_cast<std::uint32_t>(table_ids.size());
    table_ids.emplace(std::move(key), id);
    dirty.push_back(0);
    return id;
  }

  void mark_dirty(std::uint32_t id) {
    if (dirty[id] == 0) {
      dirty[id] = 1;
      dirty_tables.push_back(id);
    }
  }

  void clear_dirty() noexcept {
    for (auto id : dirty_tables)
      dirty[id] = 0;
    dirty_tables.clear();
  }

  // -- authorizer.cpp ---------------------------------------------------------

  /// The connection's authorizer: allows everything while trusted, applies
  /// the query or materializer policy otherwise.
  int authorize(int action, const char* arg1, const char* arg2) noexcept;
  int deny(std::string why);
  void record(const char* table);
  int authorize_common(int action, const char* arg1, const char* arg2, std::string_view who);
  int authorize_query(int action, const char* arg1, const char* arg2);
  int authorize_write(int action, const char* arg1, const char* arg2);
  /// Prepares `sql` under `m`, recording touched tables into `tables`.
  result<sqlite::statement> prepare(std::string_view sql, detail::prepare_mode m,
                                    sqlite::operation op, std::vector<std::uint32_t>& tables);

  // -- commit.cpp: write_context (materializers) and the log ----------------------

  sqlite::statement& statement_for(std::string_view sql, std::size_t parameters) override;
  void run(sqlite::statement& st) override;
  /// Appends `events` to the log and runs their materializers inside the
  /// open transaction, numbering them after `seq`, which ends at the last
  /// one. On error the caller rolls back what this wrote.
  result<void> append(std::span<const event_record> events, std::uint64_t& seq,
                      std::int64_t time);

  // -- query.cpp ------------------------------------------------------------------

  result<sqlite::cached_statement> prepare_query(std::string_view sql);
  result<nlohmann::json> run_query(sqlite::statement& st, int parameters,
                                   std::span<const sql_value> params);

  // -- subscriptions.cpp ----------------------------------------------------------

  /// After a commit: re-runs the subscriptions that read a written table and
  /// calls those whose result changed; clears the written tables.
  void notify();

  // -- engine.cpp: open / migrate / close -----------------------------------------

  result<void> configure();
  result<bool> has_engine_tables();
  result<void> create_state_tables();
  result<void> write_meta();
  result<void> refuse_foreign();
  result<void> initialize();
  /// Runs `steps` (callables returning result<void>) in order inside one
  /// transaction; the first error ends it and rolls everything back.
  template <class... Steps>
  result<void> run_transaction(Steps&&... steps);
  result<void> check_event_names();
  result<void> drop_state_objects();
  result<void> replay();
  result<void> rebuild();
  result<void> load();
  /// Prepares the log's insert statement, kept for the life of the connection.
  result<void> prepare_insert();
  void close() noexcept;

  // -- engine.cpp: recycled memory databases ----------------------------------------

  /// The DELETE statements that empty this memory database (the log, the
  /// state tables, sqlite_sequence); none when it cannot be emptied that way
  /// (the schema has triggers).
  std::vector<sqlite::statement> emptying;
  /// The table each of `emptying` empties (`any_table` for sqlite_sequence).
  std::vector<std::uint32_t> emptying_tables;
  static constexpr std::uint32_t any_table = UINT32_MAX;
  bool emptying_prepared = false;
  /// By table id: written by a commit since this store opened (only those
  /// need emptying).
  std::vector<std::uint8_t> written;
  bool wrote_any = false;
  void note_written() {
    for (auto id : dirty_tables) {
      if (written.size() <= id)
        written.resize(id + 1, 0);
      written[id] = 1;
    }
    wrote_any = wrote_any || !dirty_tables.empty();
  }
  /// Empties a memory database for the next store of its schema and forgets
  /// this store (subscriptions, identity, head); false when it is not worth
  /// keeping (not open, in a transaction, triggers, more than 256 KiB).
  bool empty_for_reuse() noexcept;
  /// On close of a memory store: keeps `state` (emptied) for the next store
  /// of its schema and leaves a closed stand-in in its place; false when it
  /// did not (the caller closes it).
  static bool recycle(std::unique_ptr<impl>& state) noexcept;
  /// A kept database of `schema`, or null.
  static std::unique_ptr<impl> take_recycled(const schema_def& schema);
  struct kept_databases;  ///< by schema hash, behind a mutex
  static kept_databases& kept();
};

}  // namespace multistore
