#pragma once

#include <memory>

struct sqlite3;
struct sqlite3_stmt;

namespace multistore::detail {

/// Closes a connection (sqlite3_close_v2, so the close waits for statements
/// still alive), removing its authorizer first.
struct close_connection {
  void operator()(sqlite3* db) const noexcept;
};

/// Finalizes a prepared statement (sqlite3_finalize).
struct finalize_statement {
  void operator()(sqlite3_stmt* stmt) const noexcept;
};

/// Owns one SQLite handle: moves, never copies, and hands it to `Deleter`
/// when it goes. The wrappers in `multistore::sqlite` hold one each, so their
/// moves and destructors are the compiler's.
///
///     detail::sqlite_handle<sqlite3_stmt, detail::finalize_statement> stmt_;
template <class T, class Deleter>
using sqlite_handle = std::unique_ptr<T, Deleter>;

}  // namespace multistore::detail
