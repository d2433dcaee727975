#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/sql_value.hpp"
#include "multistore/sqlite/statement.hpp"

namespace multistore {

/// The events a schema accepts: `using events = event_list<issue_created, ...>;`.
template <class... Events>
struct event_list {};

class sql_writer;

namespace detail {

/// What `sql_writer` runs on; the store engine implements it for the length
/// of one commit (or one replay).
class write_context {
 public:
  /// The cached statement for `sql`, checked to take `parameters` parameters.
  /// Throws sqlite::sqlite_failure when it cannot be prepared or is not
  /// allowed in a materializer.
  virtual sqlite::statement& statement_for(std::string_view sql, std::size_t parameters) = 0;
  /// Steps `st` to completion and resets it; throws sqlite::sqlite_failure.
  virtual void run(sqlite::statement& st) = 0;

 protected:
  write_context() = default;
  write_context(const write_context&) = default;
  write_context& operator=(const write_context&) = default;
  ~write_context() = default;
};

/// Thrown by a type-erased materializer when an event's JSON arguments do not
/// decode into the event type (the engine reports `errc::invalid_event`).
class decode_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What keeps `args` from decoding into an event whose default value encodes
/// as `shape` without a silent number conversion, or an empty string. nlohmann
/// converts a float into an integer field with an unchecked cast (undefined
/// behaviour out of range) and a negative number into an unsigned field by
/// wrapping, so where `shape` holds an integer, a float must be a whole number
/// within ±2^31 (the field's width is unknown), and where it holds an unsigned
/// integer, the number must not be negative. Walks the objects of `shape` and
/// the elements of its non-empty arrays; `shape` null checks nothing.
std::string number_mismatch(const nlohmann::json& args, const nlohmann::json& shape);

/// The default value of event `E` as JSON: what `number_mismatch` checks
/// against (null when `E` has no default constructor).
template <class E>
const nlohmann::json& event_shape() {
  static const nlohmann::json shape = [] {
    if constexpr (std::is_default_constructible_v<E>) {
      try {
        return nlohmann::json(E{});
      } catch (...) {
        return nlohmann::json{};
      }
    } else {
      return nlohmann::json{};
    }
  }();
  return shape;
}

/// A materializer with its event type erased: decodes `args` into the event
/// (throwing decode_error) and applies it.
using materializer_fn = std::function<void(const nlohmann::json& args, sql_writer& writer)>;

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

template <class E, class List>
struct list_contains : std::false_type {};
template <class E, class... Es>
struct list_contains<E, event_list<Es...>> : std::bool_constant<(std::is_same_v<E, Es> || ...)> {
};

template <class... Es>
std::vector<std::string> event_names(event_list<Es...>) {
  return {std::string{std::string_view{Es::name}}...};
}

template <class S>
std::optional<int> schema_version() {
  if constexpr (requires { S::version; })
    return static_cast<int>(S::version);
  else
    return std::nullopt;
}

}  // namespace detail

/// Runs SQL inside the commit's transaction; materializers receive one.
///
///     b.materialize<issue_created>([](const issue_created& e, multistore::sql_writer& w) {
///       w.exec("INSERT INTO issues (id, title) VALUES (?, ?)", e.id, e.title);
///     });
///
/// Statements are prepared once per SQL text and cached. A materializer may
/// only write rows: DDL, ATTACH, transaction control, setting PRAGMAs and
/// writing the engine's `__` tables are refused. Failures throw; the engine
/// rolls the whole commit back and reports `errc::storage_failed`.
class sql_writer {
 public:
  explicit sql_writer(detail::write_context& context) noexcept : context_(&context) {}

  /// Runs `sql` with `params` bound to its `?` in order (see `to_sql_value`
  /// for the accepted types). The number of parameters must match.
  template <class... P>
  void exec(std::string_view sql, const P&... params) {
    auto& st = context_->statement_for(sql, sizeof...(P));
    [[maybe_unused]] int index = 0;
    (st.bind_param(++index, params), ...);
    context_->run(st);
  }

  /// exec() with parameters chosen at run time.
  void exec_values(std::string_view sql, std::span<const sql_value> params);

 private:
  detail::write_context* context_;
};

/// One state table: its name (must not start with `__`) and the SQL that
/// creates it (may hold several statements, e.g. CREATE TABLE and CREATE INDEX).
struct table_def {
  std::string name;
  std::string create_sql;

  friend bool operator==(const table_def&, const table_def&) = default;
};

/// Collects a schema's tables and materializers; `S::define` receives one.
///
///     static void define(multistore::schema_builder& b) {
///       b.table("issues", "CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT NOT NULL)");
///       b.materialize<issue_created>([](const issue_created& e, multistore::sql_writer& w) {
///         w.exec("INSERT INTO issues (id, title) VALUES (?, ?)", e.id, e.title);
///       });
///     }
class schema_builder {
 public:
  schema_builder& table(std::string name, std::string create_sql);

  /// Registers `fn(const E&, sql_writer&)` as the materializer of event `E`.
  template <class E, class F>
  schema_builder& materialize(F fn) {
    static_assert(std::is_invocable_v<F&, const E&, sql_writer&>,
                  "multistore: a materializer is called as fn(const E&, multistore::sql_writer&)");
    add_materializer(std::string{std::string_view{E::name}},
                     [fn = std::move(fn)](const nlohmann::json& args, sql_writer& writer) {
                       if (auto why = detail::number_mismatch(args, detail::event_shape<E>());
                           !why.empty())
                         throw detail::decode_error(why);
                       std::optional<E> event;
                       try {
                         event.emplace(args.template get<E>());
                       } catch (const std::exception& e) {
                         throw detail::decode_error(e.what());
                       }
                       fn(*event, writer);
                     });
    return *this;
  }

 private:
  friend struct schema_def;
  struct materializer_entry {
    std::string event;
    detail::materializer_fn fn;
  };
  void add_materializer(std::string event, detail::materializer_fn fn);

  std::vector<table_def> tables_;
  std::vector<materializer_entry> materializers_;
};

/// A schema with its types erased: what the engine and the registry work
/// with. `schema_of<S>()` builds it once per schema type.
///
/// The hash covers the schema name, the optional `version`, every table
/// (name and SQL, in order) and every event name. Materializer code is not
/// hashed: bump `static constexpr int version` in the schema type when a
/// materializer changes meaning, and stores rebuild their state on next open.
struct schema_def {
 public:
  /// Validates and assembles a schema; throws std::logic_error when an event
  /// name is empty or repeated, an event lacks a materializer or has two, a
  /// materializer names an event outside `event_names`, or a table name is
  /// empty, repeated or starts with `__` (reserved for the engine).
  static schema_def build(std::string name, std::optional<int> version,
                          std::vector<std::string> event_names, schema_builder builder);

  const std::string& name() const noexcept { return name_; }
  /// 16 lowercase hex digits.
  const std::string& hash() const noexcept { return hash_; }
  std::optional<int> version() const noexcept { return version_; }
  const std::vector<table_def>& tables() const noexcept { return tables_; }
  const std::vector<std::string>& event_names() const noexcept { return event_names_; }
  bool has_event(std::string_view event) const noexcept { return materializer(event) != nullptr; }
  /// The materializer of `event`, or nullptr for an unknown name.
  const detail::materializer_fn* materializer(std::string_view event) const noexcept;

 private:
  schema_def() = default;

  std::string name_;
  std::string hash_;
  std::optional<int> version_;
  std::vector<table_def> tables_;
  std::vector<std::string> event_names_;
  std::unordered_map<std::string, detail::materializer_fn, detail::string_hash, std::equal_to<>>
      materializers_;
};

/// What a schema type provides:
///
///     struct issue_schema {
///       static constexpr std::string_view name = "issue";
///       static constexpr int version = 2;     // optional
///       using events = multistore::event_list<issue_created, issue_closed>;
///       static void define(multistore::schema_builder& b);
///     };
template <class S>
concept schema_type = requires(schema_builder& b) {
  std::string_view{S::name};
  typename S::events;
  S::define(b);
};

/// True when event type `E` is in `S::events`.
template <class S, class E>
inline constexpr bool schema_has_event_v =
    detail::list_contains<std::remove_cvref_t<E>, typename S::events>::value;

/// The schema of type `S`, built and validated on first use (thread-safe) and
/// kept for the life of the program. Throws std::logic_error for an invalid
/// schema (see `schema_def::build`), again on every call.
template <class S>
const schema_def& schema_of() {
  static_assert(schema_type<S>,
                "multistore: a schema type needs `static constexpr std::string_view name`, "
                "`using events = multistore::event_list<...>` and "
                "`static void define(multistore::schema_builder&)`");
  static const schema_def def = [] {
    schema_builder builder;
    S::define(builder);
    return schema_def::build(std::string{std::string_view{S::name}}, detail::schema_version<S>(),
                             detail::event_names(typename S::events{}), std::move(builder));
  }();
  return def;
}

}  // namespace multistore
