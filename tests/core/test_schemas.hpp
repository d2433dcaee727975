#pragma once

// Schemas and helpers shared by the store engine tests.

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "multistore/schema.hpp"
#include "multistore/store.hpp"
#include "multistore/store_engine.hpp"

namespace test_schemas {

// ---- events ---------------------------------------------------------------

struct todo_added {
  static constexpr std::string_view name = "todo_added";
  std::string id;
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(todo_added, id, text)

struct todo_completed {
  static constexpr std::string_view name = "todo_completed";
  std::string id;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(todo_completed, id)

struct note_logged {
  static constexpr std::string_view name = "note_logged";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(note_logged, text)

/// Its materializer throws when `fail` is set.
struct flaky_happened {
  static constexpr std::string_view name = "flaky_happened";
  bool fail = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(flaky_happened, fail)

/// Not in any schema's events list.
struct stranger_arrived {
  static constexpr std::string_view name = "stranger_arrived";
  std::string who;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stranger_arrived, who)

// ---- schemas --------------------------------------------------------------

inline void define_todo_tables(multistore::schema_builder& b) {
  b.table("todos",
          "CREATE TABLE todos (id TEXT PRIMARY KEY, text TEXT NOT NULL,"
          " done INTEGER NOT NULL DEFAULT 0)");
  b.table("notes", "CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)");
}

/// The main test schema: todos and an unrelated notes table.
struct todo_schema {
  static constexpr std::string_view name = "todo";
  using events = multistore::event_list<todo_added, todo_completed, note_logged, flaky_happened>;
  static void define(multistore::schema_builder& b) {
    define_todo_tables(b);
    b.materialize<todo_added>([](const todo_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO todos (id, text) VALUES (?, ?)", e.id, e.text);
    });
    b.materialize<todo_completed>([](const todo_completed& e, multistore::sql_writer& w) {
      w.exec("UPDATE todos SET done = 1 WHERE id = ?", e.id);
    });
    b.materialize<note_logged>([](const note_logged& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
    b.materialize<flaky_happened>([](const flaky_happened& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES ('flaky')");
      if (e.fail)
        throw std::runtime_error("flaky materializer gave up");
    });
  }
};

/// The same events with a changed table layout and materializer logic: a new
/// `length` column; opening a todo_schema file with it rebuilds the state.
struct todo_schema_v2 {
  static constexpr std::string_view name = "todo";
  static constexpr int version = 2;
  using events = todo_schema::events;
  static void define(multistore::schema_builder& b) {
    b.table("todos",
            "CREATE TABLE todos (id TEXT PRIMARY KEY, text TEXT NOT NULL,"
            " done INTEGER NOT NULL DEFAULT 0, length INTEGER NOT NULL)");
    b.table("notes", "CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    b.materialize<todo_added>([](const todo_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO todos (id, text, length) VALUES (?, ?, ?)", e.id, e.text,
             e.text.size());
    });
    b.materialize<todo_completed>([](const todo_completed& e, multistore::sql_writer& w) {
      w.exec("UPDATE todos SET done = 1 WHERE id = ?", e.id);
    });
    b.materialize<note_logged>([](const note_logged& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
    b.materialize<flaky_happened>([](const flaky_happened&, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES ('flaky')");
    });
  }
};

/// Knows only todo_added: a log with other events is foreign to it.
struct narrow_schema {
  static constexpr std::string_view name = "todo";
  static constexpr int version = 3;
  using events = multistore::event_list<todo_added>;
  static void define(multistore::schema_builder& b) {
    define_todo_tables(b);
    b.materialize<todo_added>([](const todo_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO todos (id, text) VALUES (?, ?)", e.id, e.text);
    });
  }
};

/// A new version whose materializer refuses every todo_added: replaying an
/// existing log under it fails.
struct refusing_schema {
  static constexpr std::string_view name = "todo";
  static constexpr int version = 4;
  using events = todo_schema::events;
  static void define(multistore::schema_builder& b) {
    define_todo_tables(b);
    b.materialize<todo_added>([](const todo_added&, multistore::sql_writer&) {
      throw std::runtime_error("todo_added is no longer accepted");
    });
    b.materialize<todo_completed>([](const todo_completed&, multistore::sql_writer&) {});
    b.materialize<note_logged>([](const note_logged&, multistore::sql_writer&) {});
    b.materialize<flaky_happened>([](const flaky_happened&, multistore::sql_writer&) {});
  }
};

/// Materializers that try what a materializer may not do.
struct sneaky_event {
  static constexpr std::string_view name = "sneaky_event";
  std::string sql;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(sneaky_event, sql)

struct sneaky_schema {
  static constexpr std::string_view name = "sneaky";
  using events = multistore::event_list<sneaky_event, note_logged>;
  static void define(multistore::schema_builder& b) {
    b.table("notes", "CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    b.materialize<sneaky_event>(
        [](const sneaky_event& e, multistore::sql_writer& w) { w.exec(e.sql); });
    b.materialize<note_logged>([](const note_logged& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
  }
};

/// Integer fields of both signs: what nlohmann would convert silently.
struct stock_counted {
  static constexpr std::string_view name = "stock_counted";
  std::string item;
  std::int32_t qty = 0;
  std::uint32_t shelf = 0;
  std::array<std::int32_t, 2> bins{};
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stock_counted, item, qty, shelf, bins)

struct stock_schema {
  static constexpr std::string_view name = "stock";
  using events = multistore::event_list<stock_counted>;
  static void define(multistore::schema_builder& b) {
    b.table("stock", "CREATE TABLE stock (item TEXT PRIMARY KEY, qty INTEGER NOT NULL, "
                     "shelf INTEGER NOT NULL)");
    b.materialize<stock_counted>([](const stock_counted& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO stock (item, qty, shelf) VALUES (?, ?, ?)", e.item,
             std::int64_t{e.qty}, std::int64_t{e.shelf});
    });
  }
};

// ---- helpers --------------------------------------------------------------

/// A fresh directory under the system temp directory, removed on destruction.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path()
            / ("multistore-store-test-" + std::to_string(::getpid()) + "-"
               + std::to_string(counter++) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline multistore::store_identity test_identity() { return {"client-a", "session-1"}; }

/// Opens a store of schema `S` or fails the test with the error's message.
template <class S>
std::unique_ptr<multistore::store_engine> open_store(std::string_view id,
                                                     const multistore::adapter& storage
                                                     = multistore::memory_adapter{},
                                                     multistore::store_identity identity
                                                     = test_identity()) {
  auto engine = multistore::store_engine::open(multistore::schema_of<S>(), id, storage,
                                               std::move(identity));
  if (!engine)
    throw std::runtime_error("open failed: " + engine.error().message);
  return std::move(*engine);
}

/// Commits typed events through the engine's type-erased interface.
template <class... Es>
multistore::result<std::uint64_t> commit(multistore::store_engine& engine, const Es&... events) {
  auto records = multistore::encode_events(events...);
  return engine.commit(records);
}

/// The result of a query that must succeed.
inline nlohmann::json rows(multistore::store_engine& engine, std::string_view sql,
                           std::vector<multistore::sql_value> params = {}) {
  auto r = engine.query(sql, params);
  if (!r)
    throw std::runtime_error("query failed: " + r.error().message);
  return *r;
}

inline std::int64_t count(multistore::store_engine& engine, const std::string& table) {
  return rows(engine, "SELECT count(*) AS n FROM " + table)[0]["n"].get<std::int64_t>();
}

}  // namespace test_schemas
