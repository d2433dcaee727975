#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "multistore/detail/sqlite_handle.hpp"
#include "multistore/errors.hpp"
#include "multistore/sqlite/error.hpp"
#include "multistore/sqlite/statement.hpp"

struct sqlite3;

namespace multistore::sqlite {

/// What an authorizer answers (values of SQLITE_OK and SQLITE_DENY; `ok` is
/// in statement.hpp).
inline constexpr int deny = 1;

/// A prepared statement kept in a connection's cache, with what its preparer
/// recorded: the parameter count and the tables it touches (ids the caller
/// chose).
struct cached_statement {
  statement st;
  int parameters = 0;
  std::vector<std::uint32_t> tables;
};

/// Prepared statements by SQL text, least recently used finalized first.
///
///     cached_statement* entry = cache.find(sql);
///     if (entry == nullptr) entry = &cache.insert(std::string{sql}, prepare_it(sql));
class statement_cache {
 public:
  explicit statement_cache(std::size_t capacity) noexcept : capacity_(capacity) {}

  /// The entry for `sql`, now the most recently used; null when not cached.
  cached_statement* find(std::string_view sql);
  /// Caches `entry` under `sql`, finalizing the least recently used one
  /// when the cache is full.
  cached_statement& insert(std::string sql, cached_statement entry);
  /// Finalizes every cached statement.
  void clear() noexcept;

 private:
  using entry_list = std::list<std::pair<std::string, cached_statement>>;
  std::size_t capacity_;
  entry_list entries_;  // keys are stable: list nodes never move
  std::unordered_map<std::string_view, entry_list::iterator> index_;
};

/// One SQLite database connection: an RAII handle over `sqlite3*`.
///
///     auto db = sqlite::connection::open_file(path);
///     if (!db) return forward_error(db);
///     if (auto r = db->exec("PRAGMA journal_mode=WAL", operation::open); !r) ...
///     auto st = db->prepare("SELECT value FROM __meta WHERE key = ?", operation::read);
///
/// Opened with SQLITE_OPEN_NOMUTEX: SQLite does no locking of its own, so a
/// connection (and every statement prepared on it) belongs to one thread at a
/// time. The connection keeps BEGIN, COMMIT and ROLLBACK prepared for
/// `transaction`, and caches the statements callers ask it to keep
/// (`query_cache()`, `write_cache()`), as Chromium's sql::Database does. Moves, never copies.
/// Closing (or destroying) finalizes those; statements the caller holds must
/// be destroyed first, or the close is deferred until they are
/// (sqlite3_close_v2).
class connection {
 public:
  /// Decides, while a statement is being prepared, whether one of its
  /// actions is allowed: SQLite's action code (SQLITE_READ, SQLITE_INSERT...)
  /// and its two arguments (either may be null). Returns `ok` or `deny`. An
  /// exception counts as `deny`.
  using authorizer = std::function<int(int action, const char* arg1, const char* arg2)>;

  /// Opens (creating when missing) the database file at `file`. A symbolic
  /// link at `file` is refused (SQLITE_OPEN_NOFOLLOW).
  static result<connection> open_file(const std::filesystem::path& file);
  /// Opens a private in-memory database.
  static result<connection> open_memory();

  connection() noexcept = default;

  bool is_open() const noexcept { return db_ != nullptr; }
  sqlite3* handle() const noexcept { return db_.get(); }

  /// Runs every statement of `sql` in order, discarding rows.
  result<void> exec(std::string_view sql, operation op);
  /// Prepares the first statement of `sql` (SQLITE_PREPARE_PERSISTENT when
  /// `persistent`, for statements that are kept and reused).
  result<statement> prepare(std::string_view sql, operation op, bool persistent = false);
  /// A single-value query (first column of the first row); nullopt when
  /// there is no row.
  result<std::optional<std::string>> query_text(std::string_view sql, operation op);
  /// Runs `sql` and calls `fn(const statement&)` for each row. `fn` returns
  /// `result<void>`; its first error ends the walk and is returned. A failed
  /// step is an error "<context>: <SQLite's message>".
  template <class F>
  result<void> for_each_row(std::string_view sql, operation op, std::string_view context, F&& fn);

  /// The statement caches, kept apart so that a statement prepared under
  /// one authorizer policy is never found by a caller of the other: one for
  /// read-only statements (64 entries), one for statements that write rows
  /// (256). Entries are finalized by close(), or by clear() when the tables
  /// they were prepared against are dropped.
  statement_cache& query_cache() noexcept { return query_cache_; }
  statement_cache& write_cache() noexcept { return write_cache_; }
  /// Finalizes the statements of both caches.
  void clear_caches() noexcept;

  /// Installs `fn` as the connection's authorizer (sqlite3_set_authorizer),
  /// consulted for every statement prepared from now on; an empty function
  /// removes it.
  void set_authorizer(authorizer fn);

  /// True while a transaction is open (the connection is not in autocommit).
  bool in_transaction() const noexcept;

  /// Raw BEGIN / COMMIT / ROLLBACK on cached statements; `transaction` is the
  /// RAII way to use them. Return SQLite result codes.
  int begin() noexcept;
  int commit() noexcept;
  int rollback() noexcept;
  /// One savepoint inside an open transaction (they do not nest here):
  /// SAVEPOINT, RELEASE it, or ROLLBACK TO it (which keeps it open).
  int savepoint() noexcept;
  int release_savepoint() noexcept;
  int rollback_to_savepoint() noexcept;

  /// Finalizes the connection's own statements and closes. Idempotent.
  void close() noexcept;

 private:
  explicit connection(sqlite3* db) noexcept : db_(db) {}
  static result<connection> open_path(const char* path, int flags);
  int run_cached(statement& slot, const char* sql) noexcept;

  /// The transaction-control statements, prepared on first use.
  struct control_statements {
    statement begin, commit, rollback, savepoint, release, rollback_to;
  };

  // Destroyed bottom up: statements before the handle, the authorizer (which
  // SQLite holds by address, hence on the heap) after it.
  std::unique_ptr<authorizer> authorizer_;
  detail::sqlite_handle<sqlite3, detail::close_connection> db_;
  control_statements control_;
  statement_cache query_cache_{64};
  statement_cache write_cache_{256};
};

template <class F>
result<void> connection::for_each_row(std::string_view sql, operation op,
                                      std::string_view context, F&& fn) {
  auto st = prepare(sql, op);
  if (!st)
    return forward_error(st);
  int rc;
  while ((rc = st->step()) == row)
    if (auto r = fn(std::as_const(*st)); !r)
      return r;
  if (rc != done)
    return tl::unexpected(to_error(rc, op, handle(), context));
  return {};
}

}  // namespace multistore::sqlite
