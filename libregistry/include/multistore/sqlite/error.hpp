#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "multistore/errors.hpp"

struct sqlite3;

namespace multistore::sqlite {

/// What the engine was doing when SQLite failed; decides the `errc`.
enum class operation : std::uint8_t {
  open,   ///< opening, configuring, creating or checking the database: load_failed
  write,  ///< a commit or a materializer: storage_failed
  query,  ///< a read-only query: query_failed (I/O and corruption: storage_failed)
  read,   ///< reading the engine's own tables (event log, meta): storage_failed
};

std::string_view to_string(operation op) noexcept;

/// THE mapping of SQLite result codes to `errc`. The message is
/// "<context>: <sqlite3_errmsg(db)>" (or sqlite3_errstr(rc) when `db` is null
/// or holds no message for `rc`), so the person reading it sees SQLite's own
/// words. SQLITE_BUSY and SQLITE_LOCKED while opening say the store is in use.
error to_error(int rc, operation op, sqlite3* db, std::string_view context);

/// Thrown inside a commit (by `sql_writer`) when SQLite fails; the engine
/// catches it, rolls back and reports `errc::storage_failed`.
class sqlite_failure : public std::runtime_error {
 public:
  sqlite_failure(int rc, const std::string& message) : std::runtime_error(message), rc_(rc) {}
  int code() const noexcept { return rc_; }

 private:
  int rc_;
};

}  // namespace multistore::sqlite
