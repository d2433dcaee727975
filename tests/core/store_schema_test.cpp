#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "multistore/schema.hpp"
#include "test_schemas.hpp"

using multistore::schema_builder;
using multistore::schema_def;
using multistore::sql_writer;
using namespace test_schemas;

namespace {

void noop_todo(const todo_added&, sql_writer&) {}
void noop_note(const note_logged&, sql_writer&) {}

schema_builder todo_and_note_builder() {
  schema_builder b;
  b.table("todos", "CREATE TABLE todos (id TEXT)");
  b.materialize<todo_added>(noop_todo);
  b.materialize<note_logged>(noop_note);
  return b;
}

const std::vector<std::string> todo_and_note{"todo_added", "note_logged"};

std::string logic_error_of(std::vector<std::string> events, schema_builder b) {
  try {
    (void)schema_def::build("bad", std::nullopt, std::move(events), std::move(b));
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("schema_of builds a schema once with its tables and events", "[schema]") {
  const auto& s = multistore::schema_of<todo_schema>();
  CHECK(&s == &multistore::schema_of<todo_schema>());
  CHECK(s.name() == "todo");
  CHECK_FALSE(s.version().has_value());
  CHECK(s.hash().size() == 16);
  CHECK(s.hash().find_first_not_of("0123456789abcdef") == std::string::npos);
  REQUIRE(s.tables().size() == 2);
  CHECK(s.tables()[0].name == "todos");
  CHECK(s.tables()[1].name == "notes");
  CHECK(s.event_names()
        == std::vector<std::string>{"todo_added", "todo_completed", "note_logged",
                                    "flaky_happened"});
  CHECK(s.has_event("todo_added"));
  CHECK_FALSE(s.has_event("stranger_arrived"));
  CHECK(s.materializer("todo_completed") != nullptr);
  CHECK(s.materializer("nope") == nullptr);
  CHECK(multistore::schema_of<todo_schema_v2>().version() == 2);
}

TEST_CASE("the schema hash changes with name version tables and events", "[schema]") {
  auto hash = [](std::string name, std::optional<int> version, std::vector<std::string> events,
                 std::string table_sql) {
    schema_builder b;
    b.table("todos", std::move(table_sql));
    for (const auto& e : events) {
      if (e == "todo_added")
        b.materialize<todo_added>(noop_todo);
      if (e == "note_logged")
        b.materialize<note_logged>(noop_note);
    }
    return schema_def::build(std::move(name), version, std::move(events), std::move(b)).hash();
  };
  const std::string sql = "CREATE TABLE todos (id TEXT)";
  auto base = hash("todo", std::nullopt, todo_and_note, sql);
  CHECK(base == hash("todo", std::nullopt, todo_and_note, sql));  // stable
  CHECK(base != hash("todo2", std::nullopt, todo_and_note, sql));
  CHECK(base != hash("todo", 1, todo_and_note, sql));
  CHECK(hash("todo", 1, todo_and_note, sql) != hash("todo", 2, todo_and_note, sql));
  CHECK(base != hash("todo", std::nullopt, {"todo_added"}, sql));
  CHECK(base != hash("todo", std::nullopt, todo_and_note, "CREATE TABLE todos (id INTEGER)"));
  CHECK(multistore::schema_of<todo_schema>().hash()
        != multistore::schema_of<todo_schema_v2>().hash());
}

TEST_CASE("an invalid schema is a logic_error naming the problem", "[schema]") {
  {
    schema_builder b;
    b.materialize<todo_added>(noop_todo);
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)),
               Catch::Contains("event 'note_logged' has no materializer"));
  }
  {
    auto b = todo_and_note_builder();
    b.materialize<todo_added>(noop_todo);
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)),
               Catch::Contains("event 'todo_added' has two materializers"));
  }
  {
    auto b = todo_and_note_builder();
    b.materialize<stranger_arrived>([](const stranger_arrived&, sql_writer&) {});
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)),
               Catch::Contains("'stranger_arrived', which is not in the schema's events list"));
  }
  CHECK_THAT(logic_error_of({"todo_added", "note_logged", "todo_added"}, todo_and_note_builder()),
             Catch::Contains("two event types are named 'todo_added'"));
  for (const char* table : {"__events", "__mine", "sqlite_stat1", "SQLITE_x"}) {
    INFO(table);
    auto b = todo_and_note_builder();
    b.table(table, "CREATE TABLE x (y)");
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)), Catch::Contains("reserved"));
  }
  {
    auto b = todo_and_note_builder();
    b.table("TODOS", "CREATE TABLE y (z)");
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)),
               Catch::Contains("table 'TODOS' is declared twice"));
  }
  {
    auto b = todo_and_note_builder();
    b.table("empty", "  ");
    CHECK_THAT(logic_error_of(todo_and_note, std::move(b)),
               Catch::Contains("has no CREATE statement"));
  }
}

namespace {

struct incomplete_schema {
  static constexpr std::string_view name = "incomplete";
  using events = multistore::event_list<todo_added, note_logged>;
  static void define(schema_builder& b) { b.materialize<todo_added>(noop_todo); }
};

}  // namespace

TEST_CASE("schema_of throws for an invalid schema type on every call", "[schema]") {
  CHECK_THROWS_WITH(multistore::schema_of<incomplete_schema>(),
                    Catch::Contains("'note_logged' has no materializer"));
  CHECK_THROWS_AS(multistore::schema_of<incomplete_schema>(), std::logic_error);
}

TEST_CASE("schema_has_event_v tells the events of a schema apart", "[schema]") {
  static_assert(multistore::schema_has_event_v<todo_schema, todo_added>);
  static_assert(multistore::schema_has_event_v<todo_schema, const todo_added&>);
  static_assert(!multistore::schema_has_event_v<todo_schema, stranger_arrived>);
  static_assert(!multistore::schema_has_event_v<narrow_schema, todo_completed>);
  static_assert(multistore::schema_type<todo_schema>);
  static_assert(!multistore::schema_type<todo_added>);
  CHECK(multistore::schema_has_event_v<todo_schema, note_logged>);
  CHECK_FALSE(multistore::schema_has_event_v<todo_schema, stranger_arrived>);
}

namespace {

struct misnamed_schema {
  static constexpr std::string_view name = "misnamed";
  using events = multistore::event_list<note_logged>;
  static void define(schema_builder& b) {
    b.table("notes", "CREATE TABLE other_notes (text TEXT)");
    b.materialize<note_logged>(noop_note);
  }
};

}  // namespace

TEST_CASE("a state table declared with SQL that creates another table fails to open",
          "[schema]") {
  auto r = multistore::store_engine::open(multistore::schema_of<misnamed_schema>(), "m",
                                          multistore::memory_adapter{}, test_identity());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == multistore::errc::load_failed);
  CHECK_THAT(r.error().message, Catch::Contains("does not create a table of that name"));
}
