// What user SQL may do: queries only read, materializers only write rows of
// the schema's tables. The engine's own SQL is trusted.

#include <sqlite3.h>

#include "engine_impl.hpp"

namespace multistore {

using detail::prepare_mode;

int store_engine::impl::authorize(int action, const char* arg1, const char* arg2) noexcept {
  if (mode == prepare_mode::trusted)
    return SQLITE_OK;
  try {
    return mode == prepare_mode::query ? authorize_query(action, arg1, arg2)
                                       : authorize_write(action, arg1, arg2);
  } catch (...) {  // std::bad_alloc while recording a table
    refused = "out of memory";
    return SQLITE_DENY;
  }
}

int store_engine::impl::deny(std::string why) {
  if (refused.empty())
    refused = std::move(why);
  return SQLITE_DENY;
}

void store_engine::impl::record(const char* table) {
  if (table == nullptr || captured == nullptr)
    return;
  auto id = table_id(table);
  if (std::find(captured->begin(), captured->end(), id) == captured->end())
    captured->push_back(id);
}

int store_engine::impl::authorize_common(int action, const char* arg1, const char* arg2,
                                         std::string_view who) {
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH: return deny(std::string{who} + " may not ATTACH or DETACH databases");
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      return deny(std::string{who} + " may not control transactions (" + (arg1 ? arg1 : "")
                  + ")");
    case SQLITE_PRAGMA:
      if (arg2 != nullptr)
        return deny(std::string{who} + " may not set PRAGMA " + (arg1 ? arg1 : ""));
      return SQLITE_OK;
    default: return SQLITE_OK;
  }
}

int store_engine::impl::authorize_query(int action, const char* arg1, const char* arg2) {
  if (action == SQLITE_READ) {
    record(arg1);
    return SQLITE_OK;
  }
  return authorize_common(action, arg1, arg2, "a query");
}

int store_engine::impl::authorize_write(int action, const char* arg1, const char* arg2) {
  switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      if (arg1 != nullptr && std::string_view{arg1}.starts_with("__"))
        return deny(std::string{"a materializer may not write the engine's table "} + arg1);
      record(arg1);
      return SQLITE_OK;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_ALTER_TABLE:
    case SQLITE_REINDEX:
    case SQLITE_ANALYZE:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return deny("a materializer may only write rows; declare tables with schema_builder::table");
    default: return authorize_common(action, arg1, arg2, "a materializer");
  }
}

result<sqlite::statement> store_engine::impl::prepare(std::string_view sql, prepare_mode m,
                                                      sqlite::operation op,
                                                      std::vector<std::uint32_t>& tables) {
  mode = m;
  captured = &tables;
  refused.clear();
  auto st = db.prepare(sql, op, /*persistent=*/true);
  mode = prepare_mode::trusted;
  captured = nullptr;
  if (!st && !refused.empty())
    st.error().message = "\"" + std::string{sql} + "\" is refused: " + refused;
  return st;
}

}  // namespace multistore
