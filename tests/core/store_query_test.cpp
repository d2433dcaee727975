#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "multistore/sql_value.hpp"
#include "multistore/store_engine.hpp"
#include "test_schemas.hpp"

using multistore::blob;
using multistore::errc;
using multistore::sql_value;
using namespace test_schemas;

TEST_CASE("query rows come back as json objects keyed by column name", "[query]") {
  auto engine = open_store<todo_schema>("q");
  auto r = engine->query(
      "SELECT 42 AS i, 2.5 AS d, 'text' AS s, NULL AS n, x'00ff10' AS b, 'a' || 'b' AS expr");
  REQUIRE(r);
  CHECK(*r == nlohmann::json::parse(
                  R"([{"i": 42, "d": 2.5, "s": "text", "n": null, "b": {"$blob": "00ff10"},
                       "expr": "ab"}])"));
  auto none = engine->query("SELECT id FROM todos");
  REQUIRE(none);
  CHECK(*none == nlohmann::json::array());
}

TEST_CASE("query binds integer double text blob and null parameters", "[query]") {
  auto engine = open_store<todo_schema>("q");
  std::vector<sql_value> params{std::int64_t{-7}, 0.25, std::string{"it's"}, blob{1, 2, 255},
                                nullptr};
  auto r = engine->query(
      "SELECT ? AS i, ? AS d, ? AS s, ? AS b, ? AS n, typeof(?5) AS t, typeof(?4) AS bt", params);
  REQUIRE(r);
  CHECK(*r == nlohmann::json::parse(
                  R"([{"i": -7, "d": 0.25, "s": "it's", "b": {"$blob": "0102ff"}, "n": null,
                       "t": "null", "bt": "blob"}])"));
}

TEST_CASE("query sees committed state with a cached statement", "[query]") {
  auto engine = open_store<todo_schema>("q");
  const std::string sql = "SELECT count(*) AS n FROM todos WHERE text = ?";
  CHECK(rows(*engine, sql, {std::string{"x"}})[0]["n"] == 0);
  REQUIRE(commit(*engine, todo_added{"a", "x"}, todo_added{"b", "x"}, todo_added{"c", "y"}));
  CHECK(rows(*engine, sql, {std::string{"x"}})[0]["n"] == 2);
  CHECK(rows(*engine, sql, {std::string{"y"}})[0]["n"] == 1);
}

TEST_CASE("a writing query is refused with query_failed and changes nothing", "[query]") {
  auto engine = open_store<todo_schema>("q");
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  for (const char* sql : {"INSERT INTO todos (id, text) VALUES ('b', 'y')",
                          "UPDATE todos SET done = 1", "DELETE FROM todos", "DELETE FROM __events",
                          "CREATE TABLE extra (x)", "DROP TABLE todos",
                          "INSERT INTO todos (id, text) VALUES ('c', 'z') RETURNING id"}) {
    INFO(sql);
    auto r = engine->query(sql);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::query_failed);
  }
  CHECK(rows(*engine, "SELECT id, done FROM todos")
        == nlohmann::json::parse(R"([{"id": "a", "done": 0}])"));
  CHECK(engine->read_events()->size() == 1);
}

TEST_CASE("a query may not attach databases or control transactions or set pragmas",
          "[query]") {
  temp_dir dir;
  auto engine = open_store<todo_schema>("q");
  auto attached = dir / "attached.db";
  for (const std::string& sql :
       {"ATTACH DATABASE '" + attached.string() + "' AS other", std::string{"DETACH other"},
        std::string{"BEGIN"}, std::string{"SAVEPOINT s"}, std::string{"PRAGMA foreign_keys = OFF"},
        std::string{"PRAGMA query_only = 1"}}) {
    INFO(sql);
    auto r = engine->query(sql);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::query_failed);
    CHECK_THAT(r.error().message, Catch::Contains("refused"));
  }
  CHECK_FALSE(std::filesystem::exists(attached));
  CHECK(rows(*engine, "PRAGMA foreign_keys")[0]["foreign_keys"] == 1);
  // Not inside a transaction: a commit still works.
  CHECK(commit(*engine, note_logged{"x"}).value() == 1);
}

TEST_CASE("a failing query is query_failed with the message of SQLite", "[query]") {
  auto engine = open_store<todo_schema>("q");
  auto missing = engine->query("SELECT * FROM no_such_table");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::query_failed);
  CHECK_THAT(missing.error().message, Catch::Contains("no such table: no_such_table"));

  auto syntax = engine->query("SELEC 1");
  REQUIRE_FALSE(syntax);
  CHECK(syntax.error().code == errc::query_failed);
  CHECK_THAT(syntax.error().message, Catch::Contains("syntax error"));

  auto empty = engine->query("  -- nothing\n");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == errc::query_failed);

  auto runtime = engine->query("SELECT abs(-9223372036854775807 - 1)");
  REQUIRE_FALSE(runtime);
  CHECK(runtime.error().code == errc::query_failed);
  CHECK_THAT(runtime.error().message, Catch::Contains("integer overflow"));
}

TEST_CASE("a query with the wrong number of parameters is query_failed", "[query]") {
  auto engine = open_store<todo_schema>("q");
  auto few = engine->query("SELECT ? + ?", std::vector<sql_value>{std::int64_t{1}});
  REQUIRE_FALSE(few);
  CHECK(few.error().code == errc::query_failed);
  CHECK_THAT(few.error().message, Catch::Contains("takes 2 parameters, 1 were given"));
  auto many = engine->query("SELECT 1", std::vector<sql_value>{std::int64_t{1}});
  REQUIRE_FALSE(many);
  CHECK(many.error().code == errc::query_failed);
  // The statement is still usable with the right parameters.
  CHECK(rows(*engine, "SELECT ? + ? AS s", {std::int64_t{1}, std::int64_t{2}})[0]["s"] == 3);
}

TEST_CASE("to_sql_value converts the supported C++ types", "[sql_value]") {
  using multistore::to_sql_value;
  CHECK(to_sql_value(true) == sql_value{std::int64_t{1}});
  CHECK(to_sql_value(false) == sql_value{std::int64_t{0}});
  CHECK(to_sql_value(-3) == sql_value{std::int64_t{-3}});
  CHECK(to_sql_value(std::uint32_t{4000000000U}) == sql_value{std::int64_t{4000000000}});
  CHECK(to_sql_value(std::size_t{12}) == sql_value{std::int64_t{12}});
  CHECK(to_sql_value(1.5f) == sql_value{1.5});
  CHECK(to_sql_value(std::string{"s"}) == sql_value{std::string{"s"}});
  CHECK(to_sql_value(std::string_view{"v"}) == sql_value{std::string{"v"}});
  CHECK(to_sql_value("c") == sql_value{std::string{"c"}});
  const char* null_text = nullptr;
  CHECK(to_sql_value(null_text) == sql_value{nullptr});
  CHECK(to_sql_value(blob{1, 2}) == sql_value{blob{1, 2}});
  CHECK(to_sql_value(nullptr) == sql_value{nullptr});
  CHECK(to_sql_value(std::optional<int>{}) == sql_value{nullptr});
  CHECK(to_sql_value(std::optional<int>{5}) == sql_value{std::int64_t{5}});
  CHECK(to_sql_value(sql_value{2.0}) == sql_value{2.0});
  CHECK_THROWS_AS(to_sql_value(std::numeric_limits<std::uint64_t>::max()), std::out_of_range);
  CHECK(to_sql_value(std::uint64_t{INT64_MAX}) == sql_value{std::int64_t{INT64_MAX}});
}

TEST_CASE("params survive the trip through json", "[sql_value]") {
  std::vector<sql_value> params{nullptr, std::int64_t{-5}, std::int64_t{INT64_MAX}, 0.5,
                                std::string{"x\"y"}, blob{0, 171, 255}, blob{}};
  auto json = multistore::params_to_json(params);
  CHECK(json == nlohmann::json::parse(
                    R"([null, -5, 9223372036854775807, 0.5, "x\"y", {"$blob": "00abff"},
                        {"$blob": ""}])"));
  auto back = multistore::params_from_json(nlohmann::json::parse(json.dump()));
  REQUIRE(back);
  CHECK(*back == params);
  auto with_bool = multistore::params_from_json(nlohmann::json::parse("[true, false, 3]"));
  REQUIRE(with_bool);
  CHECK(*with_bool
        == std::vector<sql_value>{std::int64_t{1}, std::int64_t{0}, std::int64_t{3}});
}

TEST_CASE("params of a bad shape are query_failed", "[sql_value]") {
  for (const char* text : {R"({"a": 1})", R"("text")", R"([[1]])", R"([{"a": 1}])",
                           R"([{"$blob": 5}])", R"([{"$blob": "abc"}])", R"([{"$blob": "zz"}])",
                           R"([{"$blob": "00", "x": 1}])", R"([18446744073709551615])"}) {
    INFO(text);
    auto r = multistore::params_from_json(nlohmann::json::parse(text));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::query_failed);
  }
}
