#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/errors.hpp"

namespace multistore {

/// Bytes of an SQLite BLOB.
using blob = std::vector<std::uint8_t>;

/// One bound SQL parameter, or one value as SQLite stores it.
using sql_value = std::variant<std::nullptr_t, std::int64_t, double, std::string, blob>;

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
concept sql_integer = std::integral<T> && !std::same_as<T, char> && !std::same_as<T, wchar_t>
                      && !std::same_as<T, char8_t> && !std::same_as<T, char16_t>
                      && !std::same_as<T, char32_t>;

template <class T>
concept sql_text = std::same_as<T, std::string> || std::same_as<T, std::string_view>
                   || std::same_as<T, const char*> || std::same_as<T, char*>;

template <class T>
concept sql_param_base = sql_integer<T> || std::floating_point<T> || sql_text<T>
                         || std::same_as<T, blob> || std::same_as<T, std::nullptr_t>
                         || std::same_as<T, sql_value>;

/// Calls `fn` with the value as one of the five SQLite storage classes:
/// nullptr, std::int64_t, double, std::string_view or std::span<const std::uint8_t>.
/// The one place that decides how a C++ value becomes an SQL value; both
/// `to_sql_value` and the binding helpers use it. An unsigned value above
/// INT64_MAX throws std::out_of_range.
// GCC 12 with sanitizers reports a false maybe-uninitialized for the value
// of an optional it knows to be empty, in the branch that never reads it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class T, class F>
decltype(auto) visit_sql_param(const T& value, F&& fn) {
  using U = std::decay_t<T>;
  if constexpr (is_optional<U>::value) {
    if (!value)
      return fn(nullptr);
    return visit_sql_param(*value, std::forward<F>(fn));
  } else if constexpr (std::same_as<U, sql_value>) {
    return std::visit(
        [&](const auto& v) -> decltype(auto) { return visit_sql_param(v, std::forward<F>(fn)); },
        value);
  } else if constexpr (std::same_as<U, std::nullptr_t>) {
    return fn(nullptr);
  } else if constexpr (std::same_as<U, bool>) {
    return fn(std::int64_t{value ? 1 : 0});
  } else if constexpr (sql_integer<U> && std::is_unsigned_v<U>) {
    if constexpr (sizeof(U) >= sizeof(std::int64_t)) {
      if (value > static_cast<U>(std::numeric_limits<std::int64_t>::max()))
        throw std::out_of_range("multistore: unsigned value " + std::to_string(value)
                                + " does not fit an SQLite INTEGER");
    }
    return fn(static_cast<std::int64_t>(value));
  } else if constexpr (sql_integer<U>) {
    return fn(static_cast<std::int64_t>(value));
  } else if constexpr (std::floating_point<U>) {
    return fn(static_cast<double>(value));
  } else if constexpr (std::same_as<U, std::string> || std::same_as<U, std::string_view>) {
    return fn(std::string_view{value});
  } else if constexpr (std::is_array_v<T>
                       && (std::same_as<U, const char*> || std::same_as<U, char*>)) {
    return fn(std::string_view{value});  // a string literal
  } else if constexpr (std::same_as<U, const char*> || std::same_as<U, char*>) {
    if (value == nullptr)
      return fn(nullptr);
    return fn(std::string_view{value});
  } else if constexpr (std::same_as<U, blob>) {
    return fn(std::span<const std::uint8_t>{value});
  } else {
    static_assert(sizeof(U) == 0,
                  "multistore: an SQL parameter must be an integer, bool, floating point, "
                  "std::string, std::string_view, const char*, multistore::blob, nullptr, "
                  "std::optional of those or multistore::sql_value");
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace detail

/// Converts one parameter of the variadic query/exec helpers: integers (bool
/// as 0/1, unsigned values that fit INT64), floating point, std::string,
/// std::string_view, const char* (nullptr as NULL), blob, nullptr and
/// std::optional<T> (nullopt as NULL).
template <class T>
sql_value to_sql_value(const T& value) {
  return detail::visit_sql_param(value, []<class V>(const V& v) -> sql_value {
    if constexpr (std::same_as<V, std::string_view>)
      return std::string{v};
    else if constexpr (std::same_as<V, std::span<const std::uint8_t>>)
      return blob(v.begin(), v.end());
    else
      return v;
  });
}

/// Parameters as they travel in messages: a JSON array of null, bool,
/// integer, floating point, string, or `{"$blob": "<hex>"}` for a blob.
/// Anything else (not an array, an object of another shape, nested arrays,
/// bad hex, an unsigned integer above INT64_MAX) is `errc::query_failed`.
result<std::vector<sql_value>> params_from_json(const nlohmann::json& array);

/// The inverse of `params_from_json`.
nlohmann::json params_to_json(std::span<const sql_value> params);

/// `{"$blob": "<lowercase hex>"}`: how a blob appears in JSON (query rows and
/// message parameters).
nlohmann::json blob_to_json(std::span<const std::uint8_t> bytes);

}  // namespace multistore
