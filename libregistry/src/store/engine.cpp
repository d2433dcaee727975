// Opening a store: the file, its lock and pragmas, the engine's tables, and a
// rebuild of the state tables by replaying the log when the schema changed.
// Closing it again.

#include <filesystem>
#include <mutex>
#include <unordered_map>

#include <sqlite3.h>

#include "engine_impl.hpp"
#include "multistore/sqlite/transaction.hpp"
#include "multistore/store_id.hpp"

namespace multistore {

using sqlite::operation;

namespace {

constexpr std::string_view meta_format = "1";

constexpr std::string_view create_engine_tables =
    "CREATE TABLE __meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE __events (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL,"
    " client_id TEXT, session_id TEXT, time_ms INTEGER);";

constexpr std::string_view insert_event_sql =
    "INSERT INTO __events (seq, name, args, client_id, session_id, time_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)";

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

}  // namespace

result<void> store_engine::impl::configure() {
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
      return forward_error(mode_now);
    if (!*mode_now || detail::lowercase(**mode_now) != "wal")
      return fail(errc::load_failed, "store '" + store_id + "': cannot switch to WAL (journal "
                                         + "mode is " + mode_now->value_or("unknown") + ")");
    auto sync = synchronous == sync_level::full ? "PRAGMA synchronous=FULL"
                                                : "PRAGMA synchronous=NORMAL";
    if (auto r = db.exec(sync, operation::open); !r)
      return r;
  }
  if (auto r = db.exec("PRAGMA foreign_keys=ON", operation::open); !r)
    return r;
  db.set_authorizer([this](int action, const char* arg1, const char* arg2) {
    return authorize(action, arg1, arg2);
  });
  return {};
}

result<bool> store_engine::impl::has_engine_tables() {
  auto n = db.query_text(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '__meta'",
      operation::open);
  if (!n)
    return forward_error(n);
  return *n && **n != "0";
}

result<void> store_engine::impl::create_state_tables() {
  for (const auto& t : schema->tables()) {
    if (auto r = db.exec(t.create_sql, operation::open); !r)
      return fail(errc::load_failed, "schema '" + schema->name() + "': creating table '"
                                         + t.name + "' failed: " + r.error().message);
  }
  auto check = db.prepare(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
      operation::open);
  if (!check)
    return forward_error(check);
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

result<void> store_engine::impl::write_meta() {
  auto st = db.prepare("INSERT OR REPLACE INTO __meta (key, value) VALUES (?, ?)",
                       operation::open);
  if (!st)
    return forward_error(st);
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
result<void> store_engine::impl::refuse_foreign() {
  auto tables = has_engine_tables();
  if (!tables)
    return forward_error(tables);
  if (*tables)
    return {};
  auto objects = db.query_text("SELECT count(*) FROM sqlite_schema", operation::open);
  if (!objects)
    return forward_error(objects);
  if (*objects && **objects != "0")
    return fail(errc::load_failed, "store '" + store_id
                                       + "': the file holds tables but is not a multistore "
                                         "store (no __meta table)");
  return {};
}

template <class... Steps>
result<void> store_engine::impl::run_transaction(Steps&&... steps) {
  sqlite::transaction tx{db};
  if (auto r = tx.begin(operation::open); !r)
    return r;
  result<void> r;
  if (!((r = steps()) && ...))
    return r;
  return tx.commit(operation::open);
}

result<void> store_engine::impl::initialize() {
  if (file_backed)
    if (auto r = refuse_foreign(); !r)
      return r;
  return run_transaction([&] { return db.exec(create_engine_tables, operation::open); },
                         [&] { return create_state_tables(); }, [&] { return write_meta(); });
}

result<void> store_engine::impl::check_event_names() {
  std::string unknown;
  auto read = db.for_each_row("SELECT DISTINCT name FROM __events", operation::open,
                              "reading the log", [&](const sqlite::statement& st) -> result<void> {
                                auto name = st.column_text(0);
                                if (!schema->has_event(name))
                                  unknown += (unknown.empty() ? "'" : ", '") + std::string{name}
                                             + "'";
                                return {};
                              });
  if (!read)
    return read;
  if (!unknown.empty())
    return fail(errc::schema_mismatch,
                "store '" + store_id + "': its log holds events " + unknown + " that schema '"
                    + schema->name() + "' does not define; refusing to open rather than lose them");
  return {};
}

result<void> store_engine::impl::drop_state_objects() {
  std::vector<std::string> drops;
  auto listed = db.for_each_row(
      "SELECT type, name FROM sqlite_schema WHERE type IN ('view', 'table')"
      " AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
      " ORDER BY type = 'table'",
      operation::open, "listing tables", [&](const sqlite::statement& st) -> result<void> {
        drops.push_back((st.column_text(0) == "view" ? "DROP VIEW " : "DROP TABLE ")
                        + quote_identifier(st.column_text(1)));
        return {};
      });
  if (!listed)
    return listed;
  for (const auto& sql : drops)
    if (auto r = db.exec(sql, operation::open); !r)
      return r;
  return {};
}

result<void> store_engine::impl::replay() {
  sql_writer writer{*this};
  return db.for_each_row(
      "SELECT seq, name, args FROM __events ORDER BY seq", operation::open, "reading the log",
      [&](const sqlite::statement& st) -> result<void> {
        auto seq = st.column_int64(0);
        std::string name{st.column_text(1)};
        auto failed = [&](const std::string& why) {
          return fail(errc::schema_mismatch, "store '" + store_id + "': replaying event #"
                                                 + std::to_string(seq) + " '" + name
                                                 + "' under schema '" + schema->name()
                                                 + "' failed: " + why);
        };
        auto args = nlohmann::json::parse(st.column_text(2), nullptr, false);
        if (args.is_discarded())
          return failed("its arguments are not valid JSON");
        try {
          (*schema->materializer(name))(args, writer);
        } catch (const std::exception& e) {
          return failed(e.what());
        } catch (...) {
          return failed("the materializer threw");
        }
        return {};
      });
}

result<void> store_engine::impl::rebuild() {
  // Foreign keys would make dropping tables in any order fail; the pragma
  // is a no-op inside a transaction, so switch it around the rebuild.
  if (auto r = db.exec("PRAGMA foreign_keys=OFF", operation::open); !r)
    return r;
  auto outcome = run_transaction(
      [&] { return check_event_names(); }, [&] { return drop_state_objects(); },
      [&] { return create_state_tables(); }, [&] { return replay(); },
      [&] { return write_meta(); });
  db.write_cache().clear();  // statements prepared against dropped tables
  clear_dirty();
  if (auto r = db.exec("PRAGMA foreign_keys=ON", operation::open); !r && outcome)
    return r;
  return outcome;
}

result<void> store_engine::impl::load() {
  // A memory database starts empty: it needs its tables and holds no event,
  // which spares a store that loads often (tests, simulations) three queries.
  if (!file_backed) {
    if (auto r = initialize(); !r)
      return r;
    head = 0;
    return prepare_insert();
  }
  auto tables = has_engine_tables();
  if (!tables)
    return forward_error(tables);
  if (!*tables) {
    if (auto r = initialize(); !r)
      return r;
  } else {
    auto hash =
        db.query_text("SELECT value FROM __meta WHERE key = 'schema_hash'", operation::open);
    if (!hash)
      return forward_error(hash);
    if (!*hash || **hash != schema->hash())
      if (auto r = rebuild(); !r)
        return r;
  }
  auto last = db.query_text("SELECT coalesce(max(seq), 0) FROM __events", operation::open);
  if (!last)
    return forward_error(last);
  head = last->has_value() ? std::stoull(**last) : 0;
  return prepare_insert();
}

result<void> store_engine::impl::prepare_insert() {
  auto st = db.prepare(insert_event_sql, operation::open, /*persistent=*/true);
  if (!st)
    return forward_error(st);
  insert_event = std::move(*st);
  events_table = table_id("__events");
  return {};
}

void store_engine::impl::close() noexcept {
  if (!open && !db.is_open())
    return;
  open = false;
  subscriptions->entries.clear();  // their statements go before the connection
  db.clear_caches();
  insert_event = sqlite::statement{};
  select_events = sqlite::statement{};
  emptying.clear();
  if (db.is_open()) {
    db.set_authorizer({});
    if (file_backed)
      (void)db.exec("PRAGMA wal_checkpoint(TRUNCATE)", operation::write);
    db.close();
  }
  lock.release();
}

// -- recycled memory databases ----------------------------------------------------
//
// Creating a store's tables is most of a memory store's load (SQLite parses
// and writes the schema: some 150 µs). A memory store that closes hands its
// emptied database, prepared statements included, to the next memory store
// of the same schema: a load then costs a few DELETEs. The next store sees
// exactly what a new database holds: no event, empty state tables, the same
// __meta. At most `kept_per_schema` wait per schema (about 50 KiB each).

namespace {

constexpr std::size_t kept_per_schema = 32;
constexpr sqlite3_int64 kept_bytes = 256 * 1024;

}  // namespace

struct store_engine::impl::kept_databases {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::unique_ptr<impl>>> by_hash;
};

store_engine::impl::kept_databases& store_engine::impl::kept() {
  static auto* p = new kept_databases;  // never destroyed: engines close during static destruction
  return *p;
}

bool store_engine::impl::empty_for_reuse() noexcept {
  if (file_backed || !open || !db.is_open() || db.in_transaction())
    return false;
  try {
    subscriptions->entries.clear();
    subscriptions = std::make_shared<detail::subscription_set>();  // old handles cancel nothing here
    mode = detail::prepare_mode::trusted;
    captured = nullptr;
    refused.clear();
    clear_dirty();
    if (!emptying_prepared) {
      emptying_prepared = true;
      auto triggers = db.query_text("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'",
                                    operation::write);
      if (!triggers || !*triggers || **triggers != "0")
        return false;
      std::vector<std::string> tables{"__events"};
      for (const auto& t : schema->tables())
        tables.push_back(t.name);
      auto sequence = db.query_text(
          "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'", operation::write);
      if (!sequence || !*sequence)
        return false;
      if (**sequence != "0")
        tables.emplace_back("sqlite_sequence");
      for (const auto& t : tables) {
        auto st = db.prepare("DELETE FROM " + quote_identifier(t), operation::write, true);
        if (!st)
          return false;
        emptying.push_back(std::move(*st));
        emptying_tables.push_back(t == "sqlite_sequence" ? any_table : table_id(t));
      }
    }
    if (emptying.empty())
      return false;
    // Only what a commit wrote holds rows (a failed commit rolled back).
    for (std::size_t i = 0; i < emptying.size() && wrote_any; ++i) {
      auto id = emptying_tables[i];
      if (id != any_table && (id >= written.size() || written[id] == 0))
        continue;
      int rc = emptying[i].step();
      emptying[i].reset();
      if (rc != sqlite::done)
        return false;
    }
    written.assign(written.size(), 0);
    wrote_any = false;
    int used = 0, highest = 0;
    if (sqlite3_db_status(db.handle(), SQLITE_DBSTATUS_CACHE_USED, &used, &highest, 0) != SQLITE_OK
        || used > kept_bytes)
      return false;
    identity = {};
    return true;
  } catch (...) {
    return false;
  }
}

bool store_engine::impl::recycle(std::unique_ptr<impl>& state) noexcept {
  if (!state || state->file_backed || !state->open)
    return false;
  try {
    auto& p = kept();
    const std::string& hash = state->schema->hash();
    auto room = [&] {
      auto it = p.by_hash.find(hash);
      return it == p.by_hash.end() || it->second.size() < kept_per_schema;
    };
    {
      std::lock_guard guard{p.mutex};
      if (!room())
        return false;
    }
    auto stand_in = std::make_unique<impl>();
    stand_in->schema = state->schema;
    stand_in->store_id = state->store_id;
    stand_in->head = state->head;
    if (!state->empty_for_reuse())  // outside the lock: other engines close meanwhile
      return false;
    std::lock_guard guard{p.mutex};
    if (!room())
      return false;
    state->open = false;
    state->store_id.clear();
    p.by_hash[hash].push_back(std::move(state));
    state = std::move(stand_in);
    return true;
  } catch (...) {
    return false;
  }
}

std::unique_ptr<store_engine::impl> store_engine::impl::take_recycled(const schema_def& schema) {
  auto& p = kept();
  std::lock_guard guard{p.mutex};
  auto it = p.by_hash.find(schema.hash());
  if (it == p.by_hash.end() || it->second.empty())
    return nullptr;
  auto state = std::move(it->second.back());
  it->second.pop_back();
  state->schema = &schema;
  return state;
}

// -- store_engine -----------------------------------------------------------------

store_engine::store_engine(std::unique_ptr<impl> state) noexcept : impl_(std::move(state)) {}

store_engine::~store_engine() { close(); }

result<std::unique_ptr<store_engine>> store_engine::open(const schema_def& schema,
                                                         std::string_view store_id,
                                                         const adapter& storage,
                                                         store_identity identity) {
  auto id = parse_store_id(store_id);
  if (!id)
    return forward_error(id);
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
      return forward_error(lock);
    state->lock = std::move(*lock);
    auto db = sqlite::connection::open_file(path);
    if (!db)
      return forward_error(db);
    state->db = std::move(*db);
  } else if (auto kept = impl::take_recycled(schema)) {
    kept->store_id = std::move(state->store_id);
    kept->identity = std::move(state->identity);
    kept->head = 0;
    kept->open = true;
    return std::unique_ptr<store_engine>(new store_engine(std::move(kept)));
  } else {
    auto db = sqlite::connection::open_memory();
    if (!db)
      return forward_error(db);
    state->db = std::move(*db);
  }

  if (auto r = state->configure(); !r)
    return forward_error(r);
  if (auto r = state->load(); !r)
    return forward_error(r);
  state->open = true;
  return std::unique_ptr<store_engine>(new store_engine(std::move(state)));
}

const std::string& store_engine::store_id() const noexcept { return impl_->store_id; }

const schema_def& store_engine::schema() const noexcept { return *impl_->schema; }

bool store_engine::is_open() const noexcept { return impl_->open; }

std::uint64_t store_engine::head() const noexcept { return impl_->head; }

void store_engine::close() noexcept {
  if (impl_ && !impl::recycle(impl_))
    impl_->close();
}

}  // namespace multistore
