#include "multistore/sqlite/error.hpp"

#include <cstring>

#include <sqlite3.h>

namespace multistore::sqlite {

std::string_view to_string(operation op) noexcept {
  switch (op) {
    case operation::open: return "open";
    case operation::write: return "write";
    case operation::query: return "query";
    case operation::read: return "read";
  }
  return "unknown";
}

error to_error(int rc, operation op, sqlite3* db, std::string_view context) {
  const int primary = rc & 0xff;
  std::string detail;
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == primary)
    detail = sqlite3_errmsg(db);
  else
    detail = sqlite3_errstr(rc);

  errc code = errc::storage_failed;
  switch (op) {
    case operation::open:
      code = errc::load_failed;
      if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        detail = "the store is in use by another connection (" + detail + ")";
      break;
    case operation::write:
    case operation::read: code = errc::storage_failed; break;
    case operation::query:
      switch (primary) {
        case SQLITE_IOERR:
        case SQLITE_CORRUPT:
        case SQLITE_FULL:
        case SQLITE_NOTADB:
        case SQLITE_CANTOPEN:
        case SQLITE_NOMEM: code = errc::storage_failed; break;
        default: code = errc::query_failed; break;
      }
      break;
  }
  // Out of file descriptors is the process's resources, not the store's
  // fault: storage_failed whatever the operation, naming the cause.
  if (db != nullptr && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR)) {
    const int sys = sqlite3_system_errno(db);
    if (out_of_descriptors(sys)) {
      code = errc::storage_failed;
      detail += " (out of file descriptors: ";
      detail += std::strerror(sys);
      detail += ')';
    }
  }
  std::string message{context};
  if (!message.empty())
    message += ": ";
  message += detail;
  return error{code, std::move(message)};
}

}  // namespace multistore::sqlite
