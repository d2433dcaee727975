#pragma once

#include <string_view>

#include "multistore/errors.hpp"
#include "multistore/sqlite/connection.hpp"

namespace multistore::sqlite {

/// A transaction that rolls back in its destructor unless committed.
///
///     sqlite::transaction tx{db};
///     if (auto r = tx.begin(operation::write); !r) return forward_error(r);
///     ... statements ...
///     if (auto r = tx.commit(operation::write); !r) return forward_error(r);
///
/// Not nestable (SQLite has no nested BEGIN). Threading: the connection's.
class transaction {
 public:
  explicit transaction(connection& db) noexcept : db_(db) {}
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction() { rollback(); }

  result<void> begin(operation op);
  /// Commits; on failure the transaction is rolled back, nothing was written.
  result<void> commit(operation op);
  /// Rolls back if open. Idempotent.
  void rollback() noexcept;

  bool is_open() const noexcept { return open_; }

 private:
  connection& db_;
  bool open_ = false;
};

}  // namespace multistore::sqlite
