#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/errors.hpp"
#include "multistore/schema.hpp"
#include "multistore/sql_value.hpp"
#include "multistore/store_engine.hpp"

namespace multistore {

/// Encodes typed events for `store_engine::commit`: `{E::name, json(e)}` each.
template <class... Es>
std::vector<event_record> encode_events(const Es&... events) {
  std::vector<event_record> out;
  out.reserve(sizeof...(Es));
  (out.push_back(event_record{std::string{std::string_view{Es::name}}, nlohmann::json(events)}),
   ...);
  return out;
}

namespace detail {

/// Query rows converted to `Row` with its nlohmann::json conversion (column
/// names are the keys); a row that does not convert throws
/// store_error(query_failed). What every `query_as` does.
template <class Row>
std::vector<Row> rows_as(const nlohmann::json& rows, std::string_view sql) {
  std::vector<Row> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    try {
      out.push_back(r.template get<Row>());
    } catch (const nlohmann::json::exception& e) {
      throw store_error(errc::query_failed,
                        "a row of \"" + std::string{sql} + "\" does not convert: " + e.what());
    }
  }
  return out;
}

}  // namespace detail

/// A loaded store as `boot` and users see it: typed commits and queries over
/// a `store_engine` it does not own.
///
///     void boot(multistore::store<issue_schema>& s) {
///       if (s.query("SELECT 1 FROM issues LIMIT 1").empty())
///         s.commit(issue_created{"1", "welcome"});
///       auto rows = s.query_as<issue_row>("SELECT id, title FROM issues WHERE id = ?", "1");
///     }
///
/// Committing an event type that is not in `Schema::events` does not
/// compile. Failures throw `store_error`. Threading: the engine's (one caller
/// at a time).
template <class Schema>
class store {
 public:
  /// Throws store_error(errc::schema_mismatch) when `engine` runs another schema.
  explicit store(store_engine& engine) : engine_(&engine) {
    const auto& expected = schema_of<Schema>();
    if (&engine.schema() != &expected && engine.schema().hash() != expected.hash())
      throw store_error(errc::schema_mismatch,
                        "store '" + engine.store_id() + "' runs schema '" + engine.schema().name()
                            + "', not '" + expected.name() + "'");
  }

  const std::string& store_id() const { return engine_->store_id(); }

  /// Commits `events` in one transaction; returns the last sequence number.
  template <class... Es>
  std::uint64_t commit(const Es&... events) {
    static_assert((schema_has_event_v<Schema, Es> && ...),
                  "multistore: this event type is not in the schema's events list");
    auto records = encode_events(events...);
    auto seq = engine_->commit(records);
    if (!seq)
      throw store_error(seq.error());
    return *seq;
  }

  /// Rows of a read-only query as a JSON array of {column: value} objects.
  template <class... P>
  nlohmann::json query(std::string_view sql, const P&... params) const {
    std::array<sql_value, sizeof...(P)> values{to_sql_value(params)...};
    auto rows = engine_->query(sql, values);
    if (!rows)
      throw store_error(rows.error());
    return std::move(*rows);
  }

  /// Rows converted to `Row` with its nlohmann::json conversion (column names
  /// are the keys). A row that does not convert throws store_error(query_failed).
  template <class Row, class... P>
  std::vector<Row> query_as(std::string_view sql, const P&... params) const {
    return detail::rows_as<Row>(query(sql, params...), sql);
  }

  store_engine& engine() noexcept { return *engine_; }

 private:
  store_engine* engine_;
};

}  // namespace multistore
