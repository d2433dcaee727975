#include "multistore/store_engine.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <list>
#include <map>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "multistore/sqlite/connection.hpp"
#include "multistore/sqlite/file_lock.hpp"
#include "multistore/sqlite/transaction.hpp"
#include "multistore/store_id.hpp"

namespace multistore {

namespace {

/// Arguments nested deeper than this are refused: nlohmann's dump() and the
/// decoders recurse once per level, so a hostile message could exhaust the
/// stack.
constexpr std::size_t max_args_depth = 256;

/// Whether `j` nests arrays or objects more than `max` levels deep; walks
/// with its own stack, never recursing.
bool nests_deeper_than(const nlohmann::json& j, std::size_t max) {
  std::vector<std::pair<const nlohmann::json*, std::size_t>> pending{{&j, 1}};
  while (!pending.empty()) {
    auto [value, depth] = pending.back();
    pending.pop_back();
    if (!value->is_structured())
      continue;
    if (depth > max)
      return true;
    for (const auto& child : *value)
      pending.emplace_back(&child, depth + 1);
  }
  return false;
}

using sqlite::operation;

constexpr std::string_view meta_format = "1";

constexpr std::string_view create_engine_tables =
    "CREATE TABLE __meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE __events (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL,"
    " client_id TEXT, session_id TEXT, time_ms INTEGER);";

constexpr std::string_view insert_event_sql =
    "INSERT INTO __events (seq, name, args, client_id, session_id, time_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)";

constexpr std::size_t write_cache_capacity = 256;
constexpr std::size_t query_cache_capacity = 64;

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A prepared statement kept for reuse, with the tables it reads (query) or
/// writes (materializer) as ids of the engine's table catalog.
struct cached_statement {
  sqlite::statement st;
  int parameters = 0;
  std::vector<std::uint32_t> tables;
};

/// Prepared statements by SQL text, least recently used evicted first.
class statement_cache {
 public:
  explicit statement_cache(std::size_t capacity) : capacity_(capacity) {}

  cached_statement* find(std::string_view sql) {
    auto it = index_.find(sql);
    if (it == index_.end())
      return nullptr;
    if (it->second != entries_.begin())
      entries_.splice(entries_.begin(), entries_, it->second);
    return &it->second->second;
  }

  cached_statement& insert(std::string sql, cached_statement entry) {
    if (entries_.size() >= capacity_) {
      index_.erase(std::string_view{entries_.back().first});
      entries_.pop_back();
    }
    entries_.emplace_front(std::move(sql), std::move(entry));
    index_.emplace(std::string_view{entries_.front().first}, entries_.begin());
    return entries_.front().second;
  }

  void clear() noexcept {
    index_.clear();
    entries_.clear();
  }

 private:
  using entry_list = std::list<std::pair<std::string, cached_statement>>;
  std::size_t capacity_;
  entry_list entries_;  // keys are stable: list nodes never move
  std::unordered_map<std::string_view, entry_list::iterator> index_;
};

struct subscription_entry {
  sqlite::statement st;
  std::vector<sql_value> params;
  std::vector<std::uint32_t> tables;
  nlohmann::json last;
  std::shared_ptr<const store_engine::subscriber> fn;
};

/// Shared with the cancel functions of `subscription` objects through a
/// weak_ptr, so a subscription can outlive the engine.
struct subscription_set {
  std::map<std::uint64_t, subscription_entry> entries;
  std::uint64_t next_id = 1;
};

// What the authorizer does while a statement is being prepared.
enum class prepare_mode : std::uint8_t {
  trusted,  // the engine's own SQL and the schema's CREATE statements
  query,    // user queries: read-only, record the tables read
  write,    // materializer statements: rows only, record the tables written
};

}  // namespace

struct store_engine::impl final : detail::write_context {
  const schema_def* schema = nullptr;
  std::string store_id;
  store_identity identity;
  bool file_backed = false;
  sync_level synchronous = sync_level::normal;
  sqlite::file_lock lock;
  sqlite::connection db;
  bool open = false;
  std::uint64_t head = 0;

  sqlite::statement insert_event;
  sqlite::statement select_events;
  statement_cache writes{write_cache_capacity};
  statement_cache queries{query_cache_capacity};
  std::shared_ptr<subscription_set> subscriptions = std::make_shared<subscription_set>();

  // The table catalog: every table a statement touched, by lowercase name.
  std::unordered_map<std::string, std::uint32_t, detail::string_hash, std::equal_to<>> table_ids;
  std::vector<std::uint8_t> dirty;           // by table id, during a commit
  std::vector<std::uint32_t> dirty_tables;   // the ids set in `dirty`
  std::uint32_t events_table = 0;

  // Authorizer state while preparing.
  prepare_mode mode = prepare_mode::trusted;
  std::vector<std::uint32_t>* captured = nullptr;
  std::string refused;

  ~impl() { close(); }

  // ---- table catalog -------------------------------------------------------

  std::uint32_t table_id(std::string_view name) {
    auto key = lowercase(name);
    if (auto it = table_ids.find(key); it != table_ids.end())
      return it->second;
    auto id = static_cast<std::uint32_t>(table_ids.size());
    table_ids.emplace(std::move(key), id);
    dirty.push_back(0);
    return id;
  }

  void mark_dirty(std::uint32_t id) {
    if (dirty[id] == 0) {
      dirty[id] = 1;
      dirty_tables.push_back(id);
    }
  }

  void clear_dirty() noexcept {
    for (auto id : dirty_tables)
      dirty[id] = 0;
    dirty_tables.clear();
  }

  // ---- authorizer ----------------------------------------------------------

  static int authorize(void* user, int action, const char* arg1, const char* arg2,
                       const char* /*database*/, const char* /*trigger*/) noexcept {
    auto& self = *static_cast<impl*>(user);
    if (self.mode == prepare_mode::trusted)
      return SQLITE_OK;
    try {
      return self.mode == prepare_mode::query ? self.authorize_query(action, arg1, arg2)
                                              : self.authorize_write(action, arg1, arg2);
    } catch (...) {  // std::bad_alloc while recording a table
      self.refused = "out of memory";
      return SQLITE_DENY;
    }
  }

  int deny(std::string why) {
    if (refused.empty())
      refused = std::move(why);
    return SQLITE_DENY;
  }

  void record(const char* table) {
    if (table == nullptr || captured == nullptr)
      return;
    auto id = table_id(table);
    if (std::find(captured->begin(), captured->end(), id) == captured->end())
      captured->push_back(id);
  }

  int authorize_common(int action, const char* arg1, const char* arg2, std::string_view who) {
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

  int authorize_query(int action, const char* arg1, const char* arg2) {
    if (action == SQLITE_READ) {
      record(arg1);
      return SQLITE_OK;
    }
    return authorize_common(action, arg1, arg2, "a query");
  }

  int authorize_write(int action, const char* arg1, const char* arg2) {
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
        return deny(
            "a materializer may only write rows; declare tables with schema_builder::table");
      default: return authorize_common(action, arg1, arg2, "a materializer");
    }
  }

  /// Prepares `sql` under `m`, recording touched tables into `tables`.
  result<sqlite::statement> prepare(std::string_view sql, prepare_mode m, operation op,
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

  // ---- write_context (materializers) --------------------------------------

  sqlite::statement& statement_for(std::string_view sql, std::size_t parameters) override {
    cached_statement* entry = writes.find(sql);
    if (entry == nullptr) {
      cached_statement fresh;
      auto st = prepare(sql, prepare_mode::write, operation::write, fresh.tables);
      if (!st)
        throw sqlite::sqlite_failure(SQLITE_ERROR, st.error().message);
      fresh.st = std::move(*st);
      fresh.parameters = fresh.st.parameter_count();
      entry = &writes.insert(std::string{sql}, std::move(fresh));
    }
    if (static_cast<std::size_t>(entry->parameters) != parameters)
      throw sqlite::sqlite_failure(
          SQLITE_RANGE, "\"" + std::string{sql} + "\" takes " + std::to_string(entry->parameters)
                            + " parameters, " + std::to_string(parameters) + " were given");
    for (auto id : entry->tables)
      mark_dirty(id);
    return entry->st;
  }

  void run(sqlite::statement& st) override {
    int rc;
    while ((rc = st.step()) == sqlite::row) {  // e.g. a RETURNING clause
    }
    if (rc != sqlite::done) {
      auto err = sqlite::to_error(rc, operation::write, db.handle(),
                                  "\"" + std::string{st.sql()} + "\" failed");
      st.reset();
      throw sqlite::sqlite_failure(rc, err.message);
    }
    st.reset();
  }

  // ---- queries ---------------------------------------------------------------

  result<cached_statement> prepare_query(std::string_view sql) {
    cached_statement entry;
    auto st = prepare(sql, prepare_mode::query, operation::query, entry.tables);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    if (!st->readonly())
      return fail(errc::query_failed, "queries are read-only; \"" + std::string{sql}
                                          + "\" would write (use commit with an event)");
    entry.st = std::move(*st);
    entry.parameters = entry.st.parameter_count();
    return entry;
  }

  result<nlohmann::json> run_query(sqlite::statement& st, int parameters,
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

  // ---- commits -----------------------------------------------------------------

  /// Appends `events` to the log and runs their materializers inside the
  /// open transaction, numbering them after `seq`, which ends at the last
  /// one. On error the caller rolls back what this wrote.
  result<void> append(std::span<const event_record> events, std::uint64_t& seq,
                      std::int64_t time) {
    sql_writer writer{*this};
    auto& ins = insert_event;
    std::string args_text;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      auto where = [&] {
        return "event '" + e.name + "' (" + std::to_string(i + 1) + " of "
               + std::to_string(events.size()) + ")";
      };
      const auto* materialize = schema->materializer(e.name);
      if (materialize == nullptr)
        return fail(errc::invalid_event,
                    where() + " is not in schema '" + schema->name() + "'; nothing was committed");
      if (nests_deeper_than(e.args, max_args_depth))
        return fail(errc::invalid_event, where() + " has arguments nested more than "
                                             + std::to_string(max_args_depth)
                                             + " levels deep; nothing was committed");
      try {
        args_text = e.args.dump();
      } catch (const std::exception& ex) {
        return fail(errc::invalid_event, where() + " has arguments that cannot be stored: "
                                             + ex.what() + "; nothing was committed");
      }
      ++seq;
      ins.bind(1, static_cast<std::int64_t>(seq));
      ins.bind(2, std::string_view{e.name});
      ins.bind(3, std::string_view{args_text});
      ins.bind(4, std::string_view{identity.client_id});
      ins.bind(5, std::string_view{identity.session_id});
      ins.bind(6, time);
      int rc = ins.step();
      ins.reset();
      if (rc != sqlite::done)
        return tl::unexpected(sqlite::to_error(rc, operation::write, db.handle(),
                                               "appending " + where() + " to the log"));
      try {
        (*materialize)(e.args, writer);
      } catch (const detail::decode_error& ex) {
        return fail(errc::invalid_event, where() + " does not decode: " + ex.what()
                                             + "; nothing was committed");
      } catch (const std::exception& ex) {
        return fail(errc::storage_failed, "the materializer of " + where() + " failed: "
                                              + ex.what() + "; nothing was committed");
      } catch (...) {
        return fail(errc::storage_failed, "the materializer of " + where()
                                              + " threw; nothing was committed");
      }
    }
    return {};
  }

  // ---- subscriptions -----------------------------------------------------------

  void notify() {
    auto& entries = subscriptions->entries;
    if (entries.empty()) {
      clear_dirty();
      return;
    }
    std::vector<std::uint64_t> due;
    for (const auto& [id, entry] : entries)
      if (std::any_of(entry.tables.begin(), entry.tables.end(),
                      [&](std::uint32_t t) { return dirty[t] != 0; }))
        due.push_back(id);
    clear_dirty();
    // Hold the set: a callback may cancel any subscription, including its own.
    auto keep = subscriptions;
    for (auto id : due) {
      auto it = keep->entries.find(id);
      if (it == keep->entries.end())
        continue;
      auto& entry = it->second;
      auto rows = run_query(entry.st, entry.st.parameter_count(), entry.params);
      if (!rows || *rows == entry.last)
        continue;
      entry.last = *rows;
      auto fn = entry.fn;  // the callback may destroy its entry
      try {
        (*fn)(*rows);
      } catch (...) {  // the commit stands; a subscriber cannot undo it
      }
      if (!open)
        return;
    }
  }

  // ---- open / migrate ------------------------------------------------------------

  result<void> configure() {
    if (file_backed) {
      // Exclusive locking before the first access: SQLite then keeps the WAL
      // index in heap memory (no -shm file, no lock calls per transaction);
      // the file lock already makes this connection the only user.
      if (auto r = db.exec("PRAGMA locking_mode=EXCLUSIVE", operation::open); !r)
        return r;
      // Before switching to WAL, which rewrites the file header.
      if (auto r = refuse_foreign(); !r)
        return r;
      auto mode_now = db.query_text("PRAGMA journal_mode=WAL", operation::open);
      if (!mode_now)
        return tl::unexpected(std::move(mode_now.error()));
      if (!*mode_now || lowercase(**mode_now) != "wal")
        return fail(errc::load_failed, "store '" + store_id + "': cannot switch to WAL (journal "
                                           + "mode is " + mode_now->value_or("unknown") + ")");
      auto sync = synchronous == sync_level::full ? "PRAGMA synchronous=FULL"
                                                  : "PRAGMA synchronous=NORMAL";
      if (auto r = db.exec(sync, operation::open); !r)
        return r;
    }
    if (auto r = db.exec("PRAGMA foreign_keys=ON", operation::open); !r)
      return r;
    sqlite3_set_authorizer(db.handle(), &impl::authorize, this);
    return {};
  }

  result<bool> has_engine_tables() {
    auto n = db.query_text(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '__meta'",
        operation::open);
    if (!n)
      return tl::unexpected(std::move(n.error()));
    return *n && **n != "0";
  }

  result<void> create_state_tables() {
    for (const auto& t : schema->tables()) {
      if (auto r = db.exec(t.create_sql, operation::open); !r)
        return fail(errc::load_failed, "schema '" + schema->name() + "': creating table '"
                                           + t.name + "' failed: " + r.error().message);
    }
    auto check = db.prepare(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
        operation::open);
    if (!check)
      return tl::unexpected(std::move(check.error()));
    for (const auto& t : schema->tables()) {
      check->bind(1, std::string_view{t.name});
      int rc = check->step();
      check->reset();
      if (rc == sqlite::done)
        return fail(errc::load_failed, "schema '" + schema->name() + "': the SQL of table '"
                                           + t.name + "' does not create a table of that name");
      if (rc != sqlite::row)
        return tl::unexpected(sqlite::to_error(rc, operation::open, db.handle(), "schema check"));
    }
    return {};
  }

  result<void> write_meta() {
    auto st = db.prepare("INSERT OR REPLACE INTO __meta (key, value) VALUES (?, ?)",
                         operation::open);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    const std::pair<std::string_view, std::string_view> rows[] = {
        {"format", meta_format}, {"schema_name", schema->name()}, {"schema_hash", schema->hash()}};
    for (const auto& [key, value] : rows) {
      st->bind(1, key);
      st->bind(2, value);
      int rc = st->step();
      st->reset();
      if (rc != sqlite::done)
        return tl::unexpected(sqlite::to_error(rc, operation::open, db.handle(), "writing __meta"));
    }
    return {};
  }

  /// Refuses a database that holds tables but no __meta: another
  /// application's file. Reads only, so a refused file is left as it was.
  result<void> refuse_foreign() {
    auto tables = has_engine_tables();
    if (!tables)
      return tl::unexpected(std::move(tables.error()));
    if (*tables)
      return {};
    auto objects = db.query_text("SELECT count(*) FROM sqlite_schema", operation::open);
    if (!objects)
      return tl::unexpected(std::move(objects.error()));
    if (*objects && **objects != "0")
      return fail(errc::load_failed, "store '" + store_id
                                         + "': the file holds tables but is not a multistore "
                                           "store (no __meta table)");
    return {};
  }

  result<void> initialize() {
    if (auto r = refuse_foreign(); !r)
      return r;
    sqlite::transaction tx{db};
    if (auto r = tx.begin(operation::open); !r)
      return r;
    if (auto r = db.exec(create_engine_tables, operation::open); !r)
      return r;
    if (auto r = create_state_tables(); !r)
      return r;
    if (auto r = write_meta(); !r)
      return r;
    return tx.commit(operation::open);
  }

  result<void> check_event_names() {
    auto st = db.prepare("SELECT DISTINCT name FROM __events", operation::open);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    std::string unknown;
    int rc;
    while ((rc = st->step()) == sqlite::row) {
      auto name = st->column_text(0);
      if (!schema->has_event(name))
        unknown += (unknown.empty() ? "'" : ", '") + std::string{name} + "'";
    }
    if (rc != sqlite::done)
      return tl::unexpected(sqlite::to_error(rc, operation::open, db.handle(), "reading the log"));
    if (!unknown.empty())
      return fail(errc::schema_mismatch,
                  "store '" + store_id + "': its log holds events " + unknown + " that schema '"
                      + schema->name()
                      + "' does not define; refusing to open rather than lose them");
    return {};
  }

  result<void> drop_state_objects() {
    auto st = db.prepare(
        "SELECT type, name FROM sqlite_schema WHERE type IN ('view', 'table')"
        " AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " ORDER BY type = 'table'",
        operation::open);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    std::vector<std::string> drops;
    int rc;
    while ((rc = st->step()) == sqlite::row)
      drops.push_back((st->column_text(0) == "view" ? "DROP VIEW " : "DROP TABLE ")
                      + quote_identifier(st->column_text(1)));
    if (rc != sqlite::done)
      return tl::unexpected(sqlite::to_error(rc, operation::open, db.handle(), "listing tables"));
    for (const auto& sql : drops)
      if (auto r = db.exec(sql, operation::open); !r)
        return r;
    return {};
  }

  result<void> replay() {
    auto st = db.prepare("SELECT seq, name, args FROM __events ORDER BY seq", operation::open);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    sql_writer writer{*this};
    int rc;
    while ((rc = st->step()) == sqlite::row) {
      auto seq = st->column_int64(0);
      std::string name{st->column_text(1)};
      auto failed = [&](const std::string& why) {
        return fail(errc::schema_mismatch, "store '" + store_id + "': replaying event #"
                                               + std::to_string(seq) + " '" + name
                                               + "' under schema '" + schema->name()
                                               + "' failed: " + why);
      };
      auto args = nlohmann::json::parse(st->column_text(2), nullptr, false);
      if (args.is_discarded())
        return failed("its arguments are not valid JSON");
      try {
        (*schema->materializer(name))(args, writer);
      } catch (const std::exception& e) {
        return failed(e.what());
      } catch (...) {
        return failed("the materializer threw");
      }
    }
    if (rc != sqlite::done)
      return tl::unexpected(sqlite::to_error(rc, operation::open, db.handle(), "reading the log"));
    return {};
  }

  result<void> rebuild() {
    // Foreign keys would make dropping tables in any order fail; the pragma
    // is a no-op inside a transaction, so switch it around the rebuild.
    if (auto r = db.exec("PRAGMA foreign_keys=OFF", operation::open); !r)
      return r;
    auto outcome = [&]() -> result<void> {
      sqlite::transaction tx{db};
      if (auto r = tx.begin(operation::open); !r)
        return r;
      if (auto r = check_event_names(); !r)
        return r;
      if (auto r = drop_state_objects(); !r)
        return r;
      if (auto r = create_state_tables(); !r)
        return r;
      if (auto r = replay(); !r)
        return r;
      if (auto r = write_meta(); !r)
        return r;
      return tx.commit(operation::open);
    }();
    writes.clear();  // statements prepared against dropped tables
    clear_dirty();
    if (auto r = db.exec("PRAGMA foreign_keys=ON", operation::open); !r && outcome)
      return r;
    return outcome;
  }

  result<void> load() {
    auto tables = has_engine_tables();
    if (!tables)
      return tl::unexpected(std::move(tables.error()));
    if (!*tables) {
      if (auto r = initialize(); !r)
        return r;
    } else {
      auto hash = db.query_text("SELECT value FROM __meta WHERE key = 'schema_hash'",
                                operation::open);
      if (!hash)
        return tl::unexpected(std::move(hash.error()));
      if (!*hash || **hash != schema->hash())
        if (auto r = rebuild(); !r)
          return r;
    }
    auto last = db.query_text("SELECT coalesce(max(seq), 0) FROM __events", operation::open);
    if (!last)
      return tl::unexpected(std::move(last.error()));
    head = last->has_value() ? std::stoull(**last) : 0;

    auto st = db.prepare(insert_event_sql, operation::open, /*persistent=*/true);
    if (!st)
      return tl::unexpected(std::move(st.error()));
    insert_event = std::move(*st);
    events_table = table_id("__events");
    return {};
  }

  void close() noexcept {
    if (!open && !db.is_open())
      return;
    open = false;
    subscriptions->entries.clear();  // their statements go before the connection
    writes.clear();
    queries.clear();
    insert_event = sqlite::statement{};
    select_events = sqlite::statement{};
    if (db.is_open()) {
      sqlite3_set_authorizer(db.handle(), nullptr, nullptr);
      if (file_backed)
        (void)db.exec("PRAGMA wal_checkpoint(TRUNCATE)", operation::write);
      db.close();
    }
    lock.release();
  }
};

// ---- store_engine ---------------------------------------------------------------

store_engine::store_engine(std::unique_ptr<impl> state) noexcept : impl_(std::move(state)) {}

store_engine::~store_engine() { shutdown(); }

result<std::unique_ptr<store_engine>> store_engine::open(const schema_def& schema,
                                                         std::string_view store_id,
                                                         const adapter& storage,
                                                         store_identity identity) {
  auto id = parse_store_id(store_id);
  if (!id)
    return tl::unexpected(std::move(id.error()));
  auto state = std::make_unique<impl>();
  state->schema = &schema;
  state->store_id = std::move(*id);
  state->identity = std::move(identity);

  if (const auto* file = std::get_if<sqlite_adapter>(&storage)) {
    if (file->directory.empty())
      return fail(errc::invalid_options, "store '" + state->store_id
                                             + "': sqlite_adapter needs a directory");
    state->file_backed = true;
    state->synchronous = file->synchronous;
    std::error_code ec;
    std::filesystem::create_directories(file->directory, ec);
    if (ec)
      return fail(errc::load_failed, "store '" + state->store_id + "': cannot create directory "
                                         + file->directory.string() + ": " + ec.message());
    auto path = file->directory / (state->store_id + ".sqlite");
    auto lock = sqlite::file_lock::acquire(path, state->store_id);
    if (!lock)
      return tl::unexpected(std::move(lock.error()));
    state->lock = std::move(*lock);
    auto db = sqlite::connection::open_file(path);
    if (!db)
      return tl::unexpected(std::move(db.error()));
    state->db = std::move(*db);
  } else {
    auto db = sqlite::connection::open_memory();
    if (!db)
      return tl::unexpected(std::move(db.error()));
    state->db = std::move(*db);
  }

  if (auto r = state->configure(); !r)
    return tl::unexpected(std::move(r.error()));
  if (auto r = state->load(); !r)
    return tl::unexpected(std::move(r.error()));
  state->open = true;
  return std::unique_ptr<store_engine>(new store_engine(std::move(state)));
}

const std::string& store_engine::store_id() const noexcept { return impl_->store_id; }

const schema_def& store_engine::schema() const noexcept { return *impl_->schema; }

bool store_engine::is_open() const noexcept { return impl_->open; }

std::uint64_t store_engine::head() const noexcept { return impl_->head; }

void store_engine::shutdown() noexcept {
  if (impl_)
    impl_->close();
}

namespace {

tl::unexpected<error> disposed(const std::string& store_id) {
  return fail(errc::store_disposed, "store '" + store_id + "' is shut down");
}

/// Runs `fn` on scope exit unless disarmed.
template <class F>
class scope_guard {
 public:
  explicit scope_guard(F fn) : fn_(std::move(fn)) {}
  scope_guard(const scope_guard&) = delete;
  scope_guard& operator=(const scope_guard&) = delete;
  ~scope_guard() {
    if (armed_)
      fn_();
  }
  void disarm() noexcept { armed_ = false; }

 private:
  F fn_;
  bool armed_ = true;
};

}  // namespace

result<std::uint64_t> store_engine::commit(std::span<const event_record> events) {
  if (impl_->open && events.empty())
    return impl_->head;
  return commit_group(std::span{&events, 1}).front();
}

std::vector<result<std::uint64_t>> store_engine::commit_group(
    std::span<const std::span<const event_record>> batches) {
  auto& s = *impl_;
  std::vector<result<std::uint64_t>> results;
  results.reserve(batches.size());
  auto fail_all = [&](const error& why) {
    results.assign(batches.size(), tl::unexpected(why));
    return std::move(results);
  };
  if (!s.open)
    return fail_all(disposed(s.store_id).value());
  // A batch alone needs no savepoint: its failure rolls the transaction back.
  const bool alone = batches.size() == 1;

  // Written tables are cleared by notify(), or here when nothing committed.
  scope_guard guard{[&s]() noexcept { s.clear_dirty(); }};
  sqlite::transaction tx{s.db};
  if (auto r = tx.begin(operation::write); !r)
    return fail_all(r.error());
  const auto time = now_ms();
  auto seq = s.head;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (int rc = alone ? SQLITE_OK : s.db.savepoint(); rc != SQLITE_OK)
      return fail_all(sqlite::to_error(rc, operation::write, s.db.handle(),
                                       "cannot start a savepoint; nothing was committed"));
    const auto before = seq;
    auto appended = s.append(batches[i], seq, time);
    if (appended) {
      if (int rc = alone ? SQLITE_OK : s.db.release_savepoint(); rc != SQLITE_OK)
        return fail_all(sqlite::to_error(rc, operation::write, s.db.handle(),
                                         "cannot release a savepoint; nothing was committed"));
      results.emplace_back(seq);
      continue;
    }
    if (alone)
      return fail_all(appended.error());
    // The batch alone goes; the batches before it stand, unless SQLite
    // rolled the whole transaction back (out of memory or disk): then
    // nothing of the group was committed.
    if (!s.db.in_transaction() || s.db.rollback_to_savepoint() != SQLITE_OK
        || s.db.release_savepoint() != SQLITE_OK) {
      auto why = appended.error();
      why.message += " (the whole group of " + std::to_string(batches.size())
                     + " commits was rolled back)";
      return fail_all(why);
    }
    seq = before;
    results.emplace_back(tl::unexpected(std::move(appended.error())));
  }
  if (auto r = tx.commit(operation::write); !r)
    return fail_all(r.error());
  if (seq != s.head) {
    s.head = seq;
    s.mark_dirty(s.events_table);
  }
  guard.disarm();
  s.notify();
  return results;
}

result<nlohmann::json> store_engine::query(std::string_view sql,
                                           std::span<const sql_value> params) {
  auto& s = *impl_;
  if (!s.open)
    return disposed(s.store_id);
  cached_statement* entry = s.queries.find(sql);
  if (entry == nullptr) {
    auto fresh = s.prepare_query(sql);
    if (!fresh)
      return tl::unexpected(std::move(fresh.error()));
    entry = &s.queries.insert(std::string{sql}, std::move(*fresh));
  }
  return s.run_query(entry->st, entry->parameters, params);
}

result<subscription> store_engine::subscribe(std::string sql, std::vector<sql_value> params,
                                             subscriber fn) {
  auto& s = *impl_;
  if (!s.open)
    return disposed(s.store_id);
  auto prepared = s.prepare_query(sql);
  if (!prepared)
    return tl::unexpected(std::move(prepared.error()));
  auto rows = s.run_query(prepared->st, prepared->parameters, params);
  if (!rows)
    return tl::unexpected(std::move(rows.error()));
  auto callback = std::make_shared<const subscriber>(std::move(fn));
  (*callback)(*rows);

  auto& set = *s.subscriptions;
  auto id = set.next_id++;
  set.entries.emplace(id, subscription_entry{std::move(prepared->st), std::move(params),
                                             std::move(prepared->tables), std::move(*rows),
                                             std::move(callback)});
  return subscription{[weak = std::weak_ptr<subscription_set>(s.subscriptions), id] {
    if (auto subs = weak.lock())
      subs->entries.erase(id);
  }};
}

result<std::vector<stored_event>> store_engine::read_events(std::uint64_t after_seq,
                                                            std::size_t limit) const {
  auto& s = *impl_;
  if (!s.open)
    return disposed(s.store_id);
  if (!s.select_events.valid()) {
    auto st = s.db.prepare(
        "SELECT seq, name, args, client_id, session_id, time_ms FROM __events"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        operation::read, /*persistent=*/true);
    if (!st)
      return tl::unexpected(std::move(st.error()));
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
