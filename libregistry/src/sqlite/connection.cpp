#include "multistore/sqlite/connection.hpp"

#include <climits>
#include <type_traits>
#include <utility>

#include <sqlite3.h>

namespace multistore::detail {

void close_connection::operator()(sqlite3* db) const noexcept {
  sqlite3_set_authorizer(db, nullptr, nullptr);
  sqlite3_close_v2(db);
}

}  // namespace multistore::detail

namespace multistore::sqlite {

static_assert(deny == SQLITE_DENY);
static_assert(std::is_nothrow_move_constructible_v<connection>
              && std::is_nothrow_move_assignable_v<connection>);

// -- statement_cache ------------------------------------------------------------

cached_statement* statement_cache::find(std::string_view sql) {
  auto it = index_.find(sql);
  if (it == index_.end())
    return nullptr;
  if (it->second != entries_.begin())
    entries_.splice(entries_.begin(), entries_, it->second);
  return &it->second->second;
}

cached_statement& statement_cache::insert(std::string sql, cached_statement entry) {
  if (entries_.size() >= capacity_) {
    index_.erase(std::string_view{entries_.back().first});
    entries_.pop_back();
  }
  entries_.emplace_front(std::move(sql), std::move(entry));
  index_.emplace(std::string_view{entries_.front().first}, entries_.begin());
  return entries_.front().second;
}

void statement_cache::clear() noexcept {
  index_.clear();
  entries_.clear();
}

// -- connection -------------------------------------------------------------------

result<connection> connection::open_path(const char* path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path, &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto err = to_error(rc, operation::open, db, std::string{"cannot open "} + path);
    sqlite3_close_v2(db);
    return tl::unexpected(std::move(err));
  }
  sqlite3_extended_result_codes(db, 1);
  return connection{db};
}

result<connection> connection::open_file(const std::filesystem::path& file) {
  return open_path(file.c_str(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                     | SQLITE_OPEN_NOFOLLOW);
}

result<connection> connection::open_memory() {
  return open_path(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                   | SQLITE_OPEN_MEMORY);
}

void connection::close() noexcept {
  clear_caches();
  control_ = control_statements{};
  db_.reset();
  authorizer_.reset();
}

void connection::clear_caches() noexcept {
  query_cache_.clear();
  write_cache_.clear();
}

void connection::set_authorizer(authorizer fn) {
  if (!fn) {
    sqlite3_set_authorizer(handle(), nullptr, nullptr);
    authorizer_.reset();
    return;
  }
  auto held = std::make_unique<authorizer>(std::move(fn));
  auto call = [](void* user, int action, const char* arg1, const char* arg2,
                 const char* /*database*/, const char* /*trigger*/) noexcept -> int {
    try {
      return (*static_cast<authorizer*>(user))(action, arg1, arg2);
    } catch (...) {
      return SQLITE_DENY;
    }
  };
  sqlite3_set_authorizer(handle(), call, held.get());
  authorizer_ = std::move(held);
}

result<statement> connection::prepare(std::string_view sql, operation op, bool persistent) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX))
    return fail(op == operation::query ? errc::query_failed : errc::storage_failed,
                "SQL text is too long");
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(handle(), sql.data(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0u, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return tl::unexpected(
        to_error(rc, op, handle(), "cannot prepare \"" + std::string{sql} + "\""));
  }
  if (stmt == nullptr)
    return fail(op == operation::query ? errc::query_failed : errc::storage_failed,
                "\"" + std::string{sql} + "\" holds no SQL statement");
  return statement{stmt};
}

result<void> connection::exec(std::string_view sql, operation op) {
  const char* p = sql.data();
  const char* end = sql.data() + sql.size();
  while (p < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(handle(), p, static_cast<int>(end - p), &stmt, &tail);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return tl::unexpected(
          to_error(rc, op, handle(), "cannot prepare \"" + std::string{sql} + "\""));
    }
    p = tail;
    if (stmt == nullptr)  // whitespace or a comment
      continue;
    statement st{stmt};
    while ((rc = st.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE)
      return tl::unexpected(
          to_error(rc, op, handle(), "\"" + std::string{st.sql()} + "\" failed"));
  }
  return {};
}

result<std::optional<std::string>> connection::query_text(std::string_view sql, operation op) {
  auto st = prepare(sql, op);
  if (!st)
    return forward_error(st);
  int rc = st->step();
  if (rc == SQLITE_ROW)
    return std::optional<std::string>{std::string{st->column_text(0)}};
  if (rc == SQLITE_DONE)
    return std::optional<std::string>{};
  return tl::unexpected(to_error(rc, op, handle(), "\"" + std::string{sql} + "\" failed"));
}

bool connection::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(handle()) == 0;
}

int connection::run_cached(statement& slot, const char* sql) noexcept {
  if (!slot.valid()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return rc;
    }
    slot = statement{stmt};
  }
  int rc = slot.step();
  slot.reset();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int connection::begin() noexcept { return run_cached(control_.begin, "BEGIN"); }
int connection::commit() noexcept { return run_cached(control_.commit, "COMMIT"); }
int connection::rollback() noexcept { return run_cached(control_.rollback, "ROLLBACK"); }
int connection::savepoint() noexcept {
  return run_cached(control_.savepoint, "SAVEPOINT batch");
}
int connection::release_savepoint() noexcept {
  return run_cached(control_.release, "RELEASE batch");
}
int connection::rollback_to_savepoint() noexcept {
  return run_cached(control_.rollback_to, "ROLLBACK TO batch");
}

}  // namespace multistore::sqlite
