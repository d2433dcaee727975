#include "multistore/sqlite/statement.hpp"

#include <type_traits>
#include <utility>

#include <sqlite3.h>

namespace multistore::detail {

void finalize_statement::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

}  // namespace multistore::detail

namespace multistore::sqlite {

static_assert(ok == SQLITE_OK && row == SQLITE_ROW && done == SQLITE_DONE);
static_assert(static_cast<int>(column_type::integer) == SQLITE_INTEGER
              && static_cast<int>(column_type::floating) == SQLITE_FLOAT
              && static_cast<int>(column_type::text) == SQLITE_TEXT
              && static_cast<int>(column_type::blob) == SQLITE_BLOB
              && static_cast<int>(column_type::null) == SQLITE_NULL);

std::string_view to_string(column_type type) noexcept {
  switch (type) {
    case column_type::integer: return "integer";
    case column_type::floating: return "floating";
    case column_type::text: return "text";
    case column_type::blob: return "blob";
    case column_type::null: return "null";
  }
  return "unknown";
}

static_assert(std::is_nothrow_move_constructible_v<statement>
              && std::is_nothrow_move_assignable_v<statement>);

sqlite3* statement::db() const noexcept { return stmt_ ? sqlite3_db_handle(stmt_.get()) : nullptr; }

std::string_view statement::sql() const noexcept {
  const char* text = stmt_ ? sqlite3_sql(stmt_.get()) : nullptr;
  return text ? std::string_view{text} : std::string_view{};
}

int statement::parameter_count() const noexcept { return sqlite3_bind_parameter_count(stmt_.get()); }

namespace {
inline void keep_first(int& slot, int rc) noexcept {
  if (rc != SQLITE_OK && slot == SQLITE_OK)
    slot = rc;
}
}  // namespace

void statement::bind(int index, std::nullptr_t) noexcept {
  keep_first(bind_error_, sqlite3_bind_null(stmt_.get(), index));
}

void statement::bind(int index, std::int64_t value) noexcept {
  keep_first(bind_error_, sqlite3_bind_int64(stmt_.get(), index, value));
}

void statement::bind(int index, double value) noexcept {
  keep_first(bind_error_, sqlite3_bind_double(stmt_.get(), index, value));
}

void statement::bind(int index, std::string_view text) noexcept {
  // An empty view may carry a null pointer, which SQLite would bind as NULL.
  const char* data = text.data() != nullptr ? text.data() : "";
  keep_first(bind_error_, sqlite3_bind_text64(stmt_.get(), index, data, text.size(), SQLITE_STATIC,
                                              SQLITE_UTF8));
}

void statement::bind(int index, std::span<const std::uint8_t> bytes) noexcept {
  static const std::uint8_t empty = 0;
  const void* data = bytes.data() != nullptr ? static_cast<const void*>(bytes.data()) : &empty;
  keep_first(bind_error_, sqlite3_bind_blob64(stmt_.get(), index, data, bytes.size(), SQLITE_STATIC));
}

int statement::step() noexcept {
  if (bind_error_ != SQLITE_OK)
    return std::exchange(bind_error_, SQLITE_OK);
  return sqlite3_step(stmt_.get());
}

void statement::reset() noexcept {
  sqlite3_reset(stmt_.get());
  bind_error_ = SQLITE_OK;
}

void statement::clear_bindings() noexcept { sqlite3_clear_bindings(stmt_.get()); }

bool statement::readonly() const noexcept { return sqlite3_stmt_readonly(stmt_.get()) != 0; }

int statement::column_count() const noexcept { return sqlite3_column_count(stmt_.get()); }

const char* statement::column_name(int column) const noexcept {
  return sqlite3_column_name(stmt_.get(), column);
}

column_type statement::type(int column) const noexcept {
  return static_cast<column_type>(sqlite3_column_type(stmt_.get(), column));
}

std::int64_t statement::column_int64(int column) const noexcept {
  return sqlite3_column_int64(stmt_.get(), column);
}

double statement::column_double(int column) const noexcept {
  return sqlite3_column_double(stmt_.get(), column);
}

std::string_view statement::column_text(int column) const noexcept {
  const auto* text = sqlite3_column_text(stmt_.get(), column);
  auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column));
  if (text == nullptr)
    return {};
  return {reinterpret_cast<const char*>(text), size};
}

std::span<const std::uint8_t> statement::column_blob(int column) const noexcept {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), column));
  auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column));
  if (data == nullptr)
    return {};
  return {data, size};
}

nlohmann::json statement::column_json(int column) const {
  switch (type(column)) {
    case column_type::integer: return column_int64(column);
    case column_type::floating: return column_double(column);
    case column_type::text: return std::string{column_text(column)};
    case column_type::blob: return blob_to_json(column_blob(column));
    case column_type::null: break;
  }
  return nullptr;
}

}  // namespace multistore::sqlite
