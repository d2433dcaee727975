#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>

#include <sqlite3.h>

#include "multistore/sqlite/connection.hpp"
#include "multistore/sqlite/error.hpp"
#include "multistore/sqlite/statement.hpp"
#include "multistore/sqlite/transaction.hpp"

using multistore::errc;
namespace sql = multistore::sqlite;
using sql::operation;

namespace {

sql::connection memory_db() {
  auto db = sql::connection::open_memory();
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE t (x INTEGER UNIQUE)", operation::open));
  return std::move(*db);
}

std::string count_of(sql::connection& db) {
  return db.query_text("SELECT count(*) FROM t", operation::read).value().value();
}

}  // namespace

TEST_CASE("a transaction rolls back in its destructor unless committed", "[sqlite]") {
  auto db = memory_db();
  {
    sql::transaction tx{db};
    REQUIRE(tx.begin(operation::write));
    REQUIRE(db.exec("INSERT INTO t VALUES (1)", operation::write));
    CHECK(db.in_transaction());
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count_of(db) == "0");
  {
    sql::transaction tx{db};
    REQUIRE(tx.begin(operation::write));
    REQUIRE(db.exec("INSERT INTO t VALUES (2)", operation::write));
    REQUIRE(tx.commit(operation::write));
    CHECK_FALSE(tx.is_open());
  }
  CHECK(count_of(db) == "1");
}

TEST_CASE("a failed bind is reported by the next step", "[sqlite]") {
  auto db = memory_db();
  auto st = db.prepare("INSERT INTO t VALUES (?)", operation::write);
  REQUIRE(st);
  st->bind(2, std::int64_t{5});  // no such parameter
  CHECK(st->step() == SQLITE_RANGE);
  st->reset();
  st->bind(1, std::int64_t{5});
  CHECK(st->step() == sql::done);
  CHECK(count_of(db) == "1");
}

TEST_CASE("sqlite result codes map to errc by operation with the message of SQLite",
          "[sqlite][errors]") {
  auto db = memory_db();
  REQUIRE(db.exec("INSERT INTO t VALUES (1)", operation::write));
  auto dup = db.exec("INSERT INTO t VALUES (1)", operation::write);
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == errc::storage_failed);
  CHECK_THAT(dup.error().message, Catch::Contains("UNIQUE constraint failed: t.x"));

  auto bad = db.prepare("SELECT nope FROM t", operation::query);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == errc::query_failed);
  CHECK_THAT(bad.error().message, Catch::Contains("no such column: nope"));

  CHECK(sql::to_error(SQLITE_BUSY, operation::open, nullptr, "x").code == errc::load_failed);
  CHECK_THAT(sql::to_error(SQLITE_BUSY, operation::open, nullptr, "x").message,
             Catch::Contains("in use"));
  CHECK(sql::to_error(SQLITE_CORRUPT, operation::open, nullptr, "x").code == errc::load_failed);
  CHECK(sql::to_error(SQLITE_CONSTRAINT, operation::write, nullptr, "x").code
        == errc::storage_failed);
  CHECK(sql::to_error(SQLITE_IOERR_WRITE, operation::query, nullptr, "x").code
        == errc::storage_failed);
  CHECK(sql::to_error(SQLITE_ERROR, operation::query, nullptr, "x").code == errc::query_failed);
  CHECK(sql::to_error(SQLITE_FULL, operation::read, nullptr, "ctx").message
        == "ctx: database or disk is full");
}

TEST_CASE("every sqlite enum value has a name", "[sqlite]") {
  std::set<std::string_view> ops;
  for (auto op : {operation::open, operation::write, operation::query, operation::read})
    ops.insert(sql::to_string(op));
  CHECK(ops.size() == 4);
  CHECK_FALSE(ops.contains("unknown"));
  CHECK(sql::to_string(static_cast<operation>(99)) == "unknown");

  std::set<std::string_view> types;
  for (int v = 1; v <= 5; ++v)
    types.insert(sql::to_string(static_cast<sql::column_type>(v)));
  CHECK(types.size() == 5);
  CHECK_FALSE(types.contains("unknown"));
  CHECK(sql::to_string(static_cast<sql::column_type>(0)) == "unknown");
}

TEST_CASE("statements read columns of every storage class", "[sqlite]") {
  auto db = memory_db();
  auto st = db.prepare("SELECT 1, 2.5, 'txt', x'0a0b', NULL", operation::query);
  REQUIRE(st);
  REQUIRE(st->step() == sql::row);
  CHECK(st->type(0) == sql::column_type::integer);
  CHECK(st->column_int64(0) == 1);
  CHECK(st->type(1) == sql::column_type::floating);
  CHECK(st->column_double(1) == 2.5);
  CHECK(st->column_text(2) == "txt");
  CHECK(st->type(3) == sql::column_type::blob);
  CHECK(st->column_blob(3).size() == 2);
  CHECK(st->type(4) == sql::column_type::null);
  CHECK(st->readonly());
  CHECK(st->step() == sql::done);
}

TEST_CASE("the statement cache finds a statement by its SQL text and drops the least recently used",
          "[sqlite][cache]") {
  auto db = memory_db();
  sql::statement_cache cache{2};
  auto keep = [&](const std::string& text) -> sql::cached_statement& {
    auto st = db.prepare(text, operation::read, /*persistent=*/true);
    REQUIRE(st);
    sql::cached_statement entry;
    entry.st = std::move(*st);
    entry.parameters = entry.st.parameter_count();
    return cache.insert(text, std::move(entry));
  };
  auto& one = keep("SELECT 1");
  keep("SELECT ?");
  CHECK(cache.find("SELECT 1") == &one);  // now the most recently used
  CHECK(cache.find("SELECT ?")->parameters == 1);
  CHECK(cache.find("SELECT 2") == nullptr);
  CHECK(cache.find("SELECT 1") == &one);
  keep("SELECT 3");  // evicts "SELECT ?", used longest ago
  CHECK(cache.find("SELECT ?") == nullptr);
  CHECK(cache.find("SELECT 1") == &one);
  CHECK(cache.find("SELECT 3") != nullptr);
  cache.clear();
  CHECK(cache.find("SELECT 1") == nullptr);
}

TEST_CASE("an installed authorizer can refuse a statement while it is prepared",
          "[sqlite][authorizer]") {
  auto db = memory_db();
  std::set<std::string> read;
  db.set_authorizer([&](int action, const char* arg1, const char*) {
    if (action == SQLITE_READ && arg1 != nullptr)
      read.insert(arg1);
    return action == SQLITE_INSERT ? sql::deny : sql::ok;
  });
  CHECK(db.prepare("SELECT x FROM t", operation::query));
  CHECK(read == std::set<std::string>{"t"});
  auto refused = db.prepare("INSERT INTO t VALUES (1)", operation::write);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::storage_failed);
  db.set_authorizer([](int, const char*, const char*) -> int { throw std::runtime_error{"x"}; });
  CHECK_FALSE(db.prepare("SELECT x FROM t", operation::query));  // an exception denies
  db.set_authorizer({});
  CHECK(db.prepare("INSERT INTO t VALUES (1)", operation::write));
  // Moving the connection keeps the authorizer working.
  db.set_authorizer([](int action, const char*, const char*) {
    return action == SQLITE_DELETE ? sql::deny : sql::ok;
  });
  sql::connection moved = std::move(db);
  CHECK_FALSE(moved.prepare("DELETE FROM t", operation::write));
  CHECK(moved.prepare("SELECT x FROM t", operation::query));
}
