#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "multistore/detail/sqlite_handle.hpp"
#include "multistore/sql_value.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace multistore::sqlite {

/// SQLite's result codes the wrappers hand back (values of SQLITE_OK,
/// SQLITE_ROW and SQLITE_DONE; checked against sqlite3.h in statement.cpp).
inline constexpr int ok = 0;
inline constexpr int row = 100;
inline constexpr int done = 101;

/// SQLite's storage classes (values of SQLITE_INTEGER ... SQLITE_NULL).
enum class column_type : std::uint8_t { integer = 1, floating = 2, text = 3, blob = 4, null = 5 };

std::string_view to_string(column_type type) noexcept;

/// A prepared statement: an RAII handle over `sqlite3_stmt`.
///
///     auto st = db.prepare("SELECT title FROM issues WHERE id = ?", operation::query);
///     if (!st) return forward_error(st);
///     st->bind(1, std::string_view{id});       // not copied: `id` must outlive step()
///     while (st->step() == sqlite::row)
///       titles.emplace_back(st->column_text(0));
///     st->reset();
///
/// Text and blobs are bound without a copy (SQLITE_STATIC), so binding a
/// temporary string is a deleted overload. A failed bind is remembered and
/// returned by the next step(). Threading: like its connection, used by one
/// thread at a time.
class statement {
 public:
  /// Moves, never copies (it owns the handle); finalizes when destroyed.
  statement() noexcept = default;
  /// Adopts a handle from sqlite3_prepare_v3.
  explicit statement(sqlite3_stmt* handle) noexcept : stmt_(handle) {}

  bool valid() const noexcept { return stmt_ != nullptr; }
  sqlite3_stmt* handle() const noexcept { return stmt_.get(); }
  sqlite3* db() const noexcept;
  /// The SQL text the statement was prepared from.
  std::string_view sql() const noexcept;

  int parameter_count() const noexcept;
  void bind(int index, std::nullptr_t) noexcept;
  void bind(int index, std::int64_t value) noexcept;
  void bind(int index, double value) noexcept;
  /// Binds without copying: `text` must stay alive until the last step().
  void bind(int index, std::string_view text) noexcept;
  void bind(int index, std::span<const std::uint8_t> bytes) noexcept;
  void bind(int index, std::string&&) = delete;
  void bind(int index, blob&&) = delete;
  /// Binds any value `to_sql_value` accepts, without copying text or blobs.
  template <class T>
  void bind_param(int index, const T& value) {
    detail::visit_sql_param(value, [&](auto v) { bind(index, v); });
  }

  /// Advances: `row`, `done` or an SQLite error code (also a failed bind).
  [[nodiscard]] int step() noexcept;
  /// Makes the statement ready to run again; bindings are kept.
  void reset() noexcept;
  void clear_bindings() noexcept;

  /// True when the statement makes no direct change to the database content.
  bool readonly() const noexcept;

  int column_count() const noexcept;
  const char* column_name(int column) const noexcept;
  column_type type(int column) const noexcept;
  std::int64_t column_int64(int column) const noexcept;
  double column_double(int column) const noexcept;
  /// Valid until the next step(), reset() or another column call on `column`.
  std::string_view column_text(int column) const noexcept;
  std::span<const std::uint8_t> column_blob(int column) const noexcept;
  /// The column as a JSON value: integer, float, string, null, or
  /// `{"$blob": "<hex>"}`.
  nlohmann::json column_json(int column) const;

 private:
  detail::sqlite_handle<sqlite3_stmt, detail::finalize_statement> stmt_;
  int bind_error_ = ok;
};

/// Resets a statement when the scope ends, on every path out of a loop of step().
class scoped_reset {
 public:
  explicit scoped_reset(statement& st) noexcept : st_(st) {}
  scoped_reset(const scoped_reset&) = delete;
  scoped_reset& operator=(const scoped_reset&) = delete;
  ~scoped_reset() { st_.reset(); }

 private:
  statement& st_;
};

}  // namespace multistore::sqlite
