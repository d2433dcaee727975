#pragma once

#include <filesystem>
#include <string_view>

#include "multistore/errors.hpp"
#include "multistore/sqlite/error.hpp"
#include "multistore/sqlite/statement.hpp"

struct sqlite3;

namespace multistore::sqlite {

/// One SQLite database connection: an RAII handle over `sqlite3*`.
///
///     auto db = sqlite::connection::open_file(path);
///     if (!db) return tl::unexpected(db.error());
///     if (auto r = db->exec("PRAGMA journal_mode=WAL", operation::open); !r) ...
///     auto st = db->prepare("SELECT value FROM __meta WHERE key = ?", operation::read);
///
/// Opened with SQLITE_OPEN_NOMUTEX: SQLite does no locking of its own, so a
/// connection (and every statement prepared on it) belongs to one thread at a
/// time. The connection keeps BEGIN, COMMIT and ROLLBACK prepared for
/// `transaction`. Closing (or destroying) finalizes those; statements the
/// caller holds must be destroyed first, or the close is deferred until they
/// are (sqlite3_close_v2).
class connection {
 public:
  /// Opens (creating when missing) the database file at `file`. A symbolic
  /// link at `file` is refused (SQLITE_OPEN_NOFOLLOW).
  static result<connection> open_file(const std::filesystem::path& file);
  /// Opens a private in-memory database.
  static result<connection> open_memory();

  connection() noexcept = default;
  connection(connection&& other) noexcept;
  connection& operator=(connection&& other) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  bool is_open() const noexcept { return db_ != nullptr; }
  sqlite3* handle() const noexcept { return db_; }

  /// Runs every statement of `sql` in order, discarding rows.
  result<void> exec(std::string_view sql, operation op);
  /// Prepares the first statement of `sql` (SQLITE_PREPARE_PERSISTENT when
  /// `persistent`, for statements that are kept and reused).
  result<statement> prepare(std::string_view sql, operation op, bool persistent = false);
  /// A single-value query (first column of the first row); nullopt when
  /// there is no row.
  result<std::optional<std::string>> query_text(std::string_view sql, operation op);

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

  sqlite3* db_ = nullptr;
  control_statements control_;
};

}  // namespace multistore::sqlite
