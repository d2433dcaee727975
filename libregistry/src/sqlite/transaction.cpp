#include "multistore/sqlite/transaction.hpp"

#include <cassert>

#include <sqlite3.h>

namespace multistore::sqlite {

result<void> transaction::begin(operation op) {
  assert(!open_ && "multistore::sqlite::transaction: begin() twice");
  if (int rc = db_.begin(); rc != SQLITE_OK)
    return tl::unexpected(to_error(rc, op, db_.handle(), "cannot begin a transaction"));
  open_ = true;
  return {};
}

result<void> transaction::commit(operation op) {
  assert(open_ && "multistore::sqlite::transaction: commit() without begin()");
  if (int rc = db_.commit(); rc != SQLITE_OK) {
    auto err = to_error(rc, op, db_.handle(), "cannot commit");
    rollback();
    return tl::unexpected(std::move(err));
  }
  open_ = false;
  return {};
}

void transaction::rollback() noexcept {
  if (!open_)
    return;
  open_ = false;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) already rolled the
  // transaction back; a ROLLBACK then would only fail.
  if (db_.in_transaction())
    (void)db_.rollback();
}

}  // namespace multistore::sqlite
