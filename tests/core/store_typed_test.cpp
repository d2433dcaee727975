#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "multistore/store.hpp"
#include "test_schemas.hpp"

using multistore::errc;
using multistore::store;
using namespace test_schemas;

namespace {

struct todo_row {
  std::string id;
  std::string text;
  int done = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(todo_row, id, text, done)

}  // namespace

TEST_CASE("encode_events names each event and converts its arguments to json", "[store]") {
  auto records = multistore::encode_events(todo_added{"a", "x"}, todo_completed{"a"});
  REQUIRE(records.size() == 2);
  CHECK(records[0].name == "todo_added");
  CHECK(records[0].args == nlohmann::json{{"id", "a"}, {"text", "x"}});
  CHECK(records[1].name == "todo_completed");
  CHECK(records[1].args == nlohmann::json{{"id", "a"}});
  CHECK(multistore::encode_events().empty());
}

TEST_CASE("a typed store commits typed events in one transaction", "[store]") {
  auto engine = open_store<todo_schema>("typed");
  store<todo_schema> s{*engine};
  CHECK(s.store_id() == "typed");
  CHECK(&s.engine() == engine.get());
  CHECK(s.commit(todo_added{"a", "x"}) == 1);
  CHECK(s.commit(todo_added{"b", "y"}, todo_completed{"a"}, note_logged{"n"}) == 4);
  CHECK(engine->read_events().value().at(2).name == "todo_completed");
}

TEST_CASE("a typed store throws store_error with the code of the engine", "[store]") {
  auto engine = open_store<todo_schema>("typed");
  store<todo_schema> s{*engine};
  s.commit(todo_added{"a", "x"});
  try {
    s.commit(note_logged{"n"}, todo_added{"a", "again"});
    FAIL("the duplicate commit did not throw");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::storage_failed);
    CHECK_THAT(e.what(), Catch::StartsWith("storage_failed: "));
  }
  CHECK(engine->head() == 1);
  try {
    (void)s.query("DELETE FROM todos");
    FAIL("the writing query did not throw");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::query_failed);
  }
  engine->close();
  try {
    s.commit(note_logged{"late"});
    FAIL("commit after shutdown did not throw");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::store_disposed);
  }
}

TEST_CASE("a typed store binds variadic query parameters", "[store]") {
  auto engine = open_store<todo_schema>("typed");
  store<todo_schema> s{*engine};
  s.commit(todo_added{"a", "x"}, todo_added{"b", "y"}, todo_completed{"b"});
  std::string id = "b";
  CHECK(s.query("SELECT text FROM todos WHERE id = ? AND done = ?", id, true)
        == nlohmann::json::parse(R"([{"text": "y"}])"));
  CHECK(s.query("SELECT count(*) AS n FROM todos WHERE id IN (?, ?)", "a", std::string_view{"b"})
        == nlohmann::json::parse(R"([{"n": 2}])"));
  CHECK(s.query("SELECT ? IS NULL AS missing", std::optional<std::string>{})
        == nlohmann::json::parse(R"([{"missing": 1}])"));
}

TEST_CASE("query_as converts rows to a struct", "[store]") {
  auto engine = open_store<todo_schema>("typed");
  store<todo_schema> s{*engine};
  s.commit(todo_added{"a", "x"}, todo_added{"b", "y"}, todo_completed{"a"});
  auto todos = s.query_as<todo_row>("SELECT id, text, done FROM todos ORDER BY id");
  REQUIRE(todos.size() == 2);
  CHECK(todos[0].id == "a");
  CHECK(todos[0].done == 1);
  CHECK(todos[1].text == "y");
  CHECK(todos[1].done == 0);
  CHECK(s.query_as<todo_row>("SELECT id, text, done FROM todos WHERE id = ?", "zzz").empty());
  try {
    (void)s.query_as<todo_row>("SELECT id FROM todos");
    FAIL("a row without text converted");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::query_failed);
  }
}

TEST_CASE("a typed store over an engine of another schema is refused", "[store]") {
  auto engine = open_store<sneaky_schema>("other");
  try {
    store<todo_schema> s{*engine};
    FAIL("a store of the wrong schema was made");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::schema_mismatch);
  }
}
