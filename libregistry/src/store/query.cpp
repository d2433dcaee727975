// Read-only queries (cached per SQL text) and reads of the event log.

#include <climits>

#include "engine_impl.hpp"

namespace multistore {

using sqlite::operation;

result<sqlite::cached_statement> store_engine::impl::prepare_query(std::string_view sql) {
  sqlite::cached_statement entry;
  auto st = prepare(sql, detail::prepare_mode::query, operation::query, entry.tables);
  if (!st)
    return forward_error(st);
  if (!st->readonly())
    return fail(errc::query_failed, "queries are read-only; \"" + std::string{sql}
                                        + "\" would write (use commit with an event)");
  entry.st = std::move(*st);
  entry.parameters = entry.st.parameter_count();
  return entry;
}

result<nlohmann::json> store_engine::impl::run_query(sqlite::statement& st, int parameters,
                                                     std::span<const sql_value> params) {
  if (static_cast<std::size_t>(parameters) != params.size())
    return fail(errc::query_failed, "\"" + std::string{st.sql()} + "\" takes "
                                        + std::to_string(parameters) + " parameters, "
                                        + std::to_string(params.size()) + " were given");
  sqlite::scoped_reset guard{st};
  int index = 0;
  for (const auto& p : params)
    st.bind_param(++index, p);
  const int columns = st.column_count();
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    const char* name = st.column_name(c);
    names.emplace_back(name ? name : "");
  }
  auto rows = nlohmann::json::array();
  int rc;
  while ((rc = st.step()) == sqlite::row) {
    auto row_object = nlohmann::json::object();
    for (int c = 0; c < columns; ++c)
      row_object[names[static_cast<std::size_t>(c)]] = st.column_json(c);
    rows.push_back(std::move(row_object));
  }
  if (rc != sqlite::done)
    return tl::unexpected(sqlite::to_error(rc, operation::query, db.handle(),
                                           "\"" + std::string{st.sql()} + "\" failed"));
  return rows;
}

result<nlohmann::json> store_engine::query(std::string_view sql,
                                           std::span<const sql_value> params) {
  auto& s = *impl_;
  if (!s.open)
    return detail::disposed(s.store_id);
  auto& cache = s.db.query_cache();
  sqlite::cached_statement* entry = cache.find(sql);
  if (entry == nullptr) {
    auto fresh = s.prepare_query(sql);
    if (!fresh)
      return forward_error(fresh);
    entry = &cache.insert(std::string{sql}, std::move(*fresh));
  }
  return s.run_query(entry->st, entry->parameters, params);
}

result<std::vector<stored_event>> store_engine::read_events(std::uint64_t after_seq,
                                                            std::size_t limit) const {
  auto& s = *impl_;
  if (!s.open)
    return detail::disposed(s.store_id);
  if (!s.select_events.valid()) {
    auto st = s.db.prepare(
        "SELECT seq, name, args, client_id, session_id, time_ms FROM __events"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        operation::read, /*persistent=*/true);
    if (!st)
      return forward_error(st);
    s.select_events = std::move(*st);
  }
  auto& st = s.select_events;
  sqlite::scoped_reset guard{st};
  constexpr auto max_int64 = static_cast<std::uint64_t>(INT64_MAX);
  st.bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(after_seq, max_int64)));
  st.bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, max_int64)));
  std::vector<stored_event> out;
  int rc;
  while ((rc = st.step()) == sqlite::row) {
    auto args = nlohmann::json::parse(st.column_text(2), nullptr, false);
    if (args.is_discarded())
      return fail(errc::storage_failed, "store '" + s.store_id + "': event #"
                                            + std::to_string(st.column_int64(0))
                                            + " has arguments that are not valid JSON");
    out.push_back(stored_event{static_cast<std::uint64_t>(st.column_int64(0)),
                               std::string{st.column_text(1)}, std::move(args),
                               std::string{st.column_text(3)}, std::string{st.column_text(4)},
                               st.column_int64(5)});
  }
  if (rc != sqlite::done)
    return tl::unexpected(
        sqlite::to_error(rc, operation::read, s.db.handle(), "reading the event log"));
  return out;
}

}  // namespace multistore
