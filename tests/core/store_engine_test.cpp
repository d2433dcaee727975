#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "multistore/detail/json_depth.hpp"
#include "multistore/store_engine.hpp"
#include "test_schemas.hpp"

using multistore::errc;
using multistore::event_record;
using namespace test_schemas;

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("a commit appends the event to the log and materializes it", "[engine][commit]") {
  auto engine = open_store<todo_schema>("todos-1");
  CHECK(engine->head() == 0);
  CHECK(engine->store_id() == "todos-1");
  CHECK(&engine->schema() == &multistore::schema_of<todo_schema>());

  auto before = wall_ms();
  auto seq = commit(*engine, todo_added{"a", "write tests"});
  auto after = wall_ms();
  REQUIRE(seq);
  CHECK(*seq == 1);
  CHECK(engine->head() == 1);

  CHECK(rows(*engine, "SELECT id, text, done FROM todos")
        == nlohmann::json::parse(R"([{"id": "a", "text": "write tests", "done": 0}])"));

  auto log = engine->read_events();
  REQUIRE(log);
  REQUIRE(log->size() == 1);
  const auto& e = log->front();
  CHECK(e.seq == 1);
  CHECK(e.name == "todo_added");
  CHECK(e.args == nlohmann::json{{"id", "a"}, {"text", "write tests"}});
  CHECK(e.client_id == "client-a");
  CHECK(e.session_id == "session-1");
  CHECK(e.time_ms >= before);
  CHECK(e.time_ms <= after);
}

TEST_CASE("a batch commit returns the last sequence number", "[engine][commit]") {
  auto engine = open_store<todo_schema>("todos");
  auto first = commit(*engine, todo_added{"a", "x"}, todo_added{"b", "y"}, todo_completed{"a"});
  REQUIRE(first);
  CHECK(*first == 3);
  auto second = commit(*engine, note_logged{"n1"}, todo_completed{"b"});
  REQUIRE(second);
  CHECK(*second == 5);
  CHECK(engine->head() == 5);
  CHECK(rows(*engine, "SELECT id FROM todos WHERE done = 1 ORDER BY id")
        == nlohmann::json::parse(R"([{"id": "a"}, {"id": "b"}])"));
  auto log = engine->read_events();
  REQUIRE(log);
  std::vector<std::uint64_t> seqs;
  for (const auto& ev : *log)
    seqs.push_back(ev.seq);
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("a batch is all or nothing when the third of five materializers fails",
          "[engine][commit][atomic]") {
  auto engine = open_store<todo_schema>("todos");
  REQUIRE(commit(*engine, todo_added{"dup", "already here"}));
  auto state_before = rows(*engine, "SELECT * FROM todos ORDER BY id");

  // The third event violates the primary key of todos.
  auto r = commit(*engine, todo_added{"a", "1"}, note_logged{"2"}, todo_added{"dup", "3"},
                  todo_added{"d", "4"}, note_logged{"5"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::storage_failed);
  CHECK_THAT(r.error().message, Catch::Contains("UNIQUE constraint failed: todos.id"));
  CHECK_THAT(r.error().message, Catch::Contains("3 of 5"));

  CHECK(engine->head() == 1);
  CHECK(engine->read_events()->size() == 1);
  CHECK(rows(*engine, "SELECT * FROM todos ORDER BY id") == state_before);
  CHECK(count(*engine, "notes") == 0);

  // The store keeps working and numbering goes on from the committed head.
  auto next = commit(*engine, todo_added{"a", "1"}, note_logged{"2"});
  REQUIRE(next);
  CHECK(*next == 3);
  CHECK(count(*engine, "todos") == 2);
  CHECK(count(*engine, "notes") == 1);
}

TEST_CASE("a materializer that throws leaves log and state untouched", "[engine][commit]") {
  auto engine = open_store<todo_schema>("todos");
  REQUIRE(commit(*engine, flaky_happened{false}));
  REQUIRE(count(*engine, "notes") == 1);

  auto r = commit(*engine, note_logged{"before"}, flaky_happened{true});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::storage_failed);
  CHECK_THAT(r.error().message, Catch::Contains("flaky materializer gave up"));
  CHECK_THAT(r.error().message, Catch::Contains("flaky_happened"));
  CHECK(engine->head() == 1);
  CHECK(engine->read_events()->size() == 1);
  CHECK(count(*engine, "notes") == 1);
  CHECK(commit(*engine, flaky_happened{false}).value() == 2);
}

TEST_CASE("an unknown event name is invalid_event and commits nothing", "[engine][invalid]") {
  auto engine = open_store<todo_schema>("todos");
  std::vector<event_record> batch{
      {"todo_added", {{"id", "a"}, {"text", "x"}}},
      {"no_such_event", nlohmann::json::object()},
  };
  auto r = engine->commit(batch);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_event);
  CHECK_THAT(r.error().message, Catch::Contains("no_such_event"));
  CHECK(engine->head() == 0);
  CHECK(engine->read_events()->empty());
  CHECK(count(*engine, "todos") == 0);
  CHECK(commit(*engine, todo_added{"a", "x"}).value() == 1);
}

TEST_CASE("arguments that do not decode are invalid_event and commit nothing",
          "[engine][invalid]") {
  auto engine = open_store<todo_schema>("todos");
  const std::vector<nlohmann::json> bad_args{
      nlohmann::json{{"id", "a"}},                  // text missing
      nlohmann::json{{"id", 5}, {"text", "x"}},     // id of the wrong type
      nlohmann::json::array({"a", "x"}),            // not an object
      nlohmann::json("just a string"),
  };
  for (const auto& args : bad_args) {
    INFO(args.dump());
    std::vector<event_record> batch{{"note_logged", {{"text", "first"}}}, {"todo_added", args}};
    auto r = engine->commit(batch);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_event);
    CHECK_THAT(r.error().message, Catch::Contains("todo_added"));
  }
  CHECK(engine->head() == 0);
  CHECK(count(*engine, "notes") == 0);
  CHECK(count(*engine, "todos") == 0);
}

TEST_CASE("arguments holding invalid UTF-8 are invalid_event", "[engine][invalid]") {
  auto engine = open_store<todo_schema>("todos");
  std::vector<event_record> batch{{"note_logged", {{"text", std::string{"\xff\xfe"}}}}};
  auto r = engine->commit(batch);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_event);
  CHECK(engine->head() == 0);
}

TEST_CASE("a materializer may only write rows of the state tables", "[engine][invalid]") {
  auto engine = open_store<sneaky_schema>("sneaky");
  const std::vector<std::string> refused{
      "INSERT INTO __events (seq, name, args) VALUES (99, 'forged', '{}')",
      "DELETE FROM __meta",
      "CREATE TABLE extra (x)",
      "DROP TABLE notes",
      "ALTER TABLE notes ADD COLUMN y",
      "COMMIT",
      "SAVEPOINT s",
      "PRAGMA foreign_keys = OFF",
      "ATTACH DATABASE ':memory:' AS other",
      "INSERT INTO no_such_table VALUES (1)",
  };
  for (const auto& sql : refused) {
    INFO(sql);
    auto r = commit(*engine, note_logged{"kept out"}, sneaky_event{sql});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::storage_failed);
    CHECK(engine->head() == 0);
    CHECK(count(*engine, "notes") == 0);
  }
  CHECK(rows(*engine, "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'extra'")[0]["n"]
        == 0);
  // The same writer does write rows.
  REQUIRE(commit(*engine, sneaky_event{"INSERT INTO notes (text) VALUES ('fine')"}));
  CHECK(count(*engine, "notes") == 1);
}

TEST_CASE("a materializer parameter count mismatch is storage_failed", "[engine][invalid]") {
  auto engine = open_store<sneaky_schema>("sneaky");
  auto r = commit(*engine, sneaky_event{"INSERT INTO notes (text) VALUES (?)"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::storage_failed);
  CHECK_THAT(r.error().message, Catch::Contains("takes 1 parameters, 0 were given"));
}

TEST_CASE("an empty commit writes nothing and returns the head", "[engine][commit]") {
  auto engine = open_store<todo_schema>("todos");
  REQUIRE(commit(*engine, note_logged{"x"}));
  auto r = engine->commit({});
  REQUIRE(r);
  CHECK(*r == 1);
  CHECK(engine->read_events()->size() == 1);
}

TEST_CASE("every event records the client id and session id of its engine",
          "[engine][identity]") {
  auto engine = open_store<todo_schema>("todos", multistore::memory_adapter{},
                                        {"client-z", "session-9"});
  REQUIRE(commit(*engine, note_logged{"a"}, note_logged{"b"}));
  auto log = engine->read_events().value();
  REQUIRE(log.size() == 2);
  for (const auto& e : log) {
    CHECK(e.client_id == "client-z");
    CHECK(e.session_id == "session-9");
  }
  CHECK(rows(*engine, "SELECT DISTINCT client_id, session_id FROM __events")
        == nlohmann::json::parse(R"([{"client_id": "client-z", "session_id": "session-9"}])"));
}

TEST_CASE("read_events pages through the log after a sequence number", "[engine][log]") {
  auto engine = open_store<todo_schema>("todos");
  for (int i = 0; i < 10; ++i)
    REQUIRE(commit(*engine, note_logged{std::to_string(i)}));
  auto page = engine->read_events(3, 4);
  REQUIRE(page);
  REQUIRE(page->size() == 4);
  CHECK(page->front().seq == 4);
  CHECK(page->back().seq == 7);
  CHECK(page->front().args["text"] == "3");
  CHECK(engine->read_events(10)->empty());
  CHECK(engine->read_events(0, 0)->empty());
  CHECK(engine->read_events(8)->size() == 2);
}

TEST_CASE("after shutdown every call is store_disposed", "[engine][lifecycle]") {
  auto engine = open_store<todo_schema>("todos");
  REQUIRE(commit(*engine, note_logged{"x"}));
  CHECK(engine->is_open());
  engine->close();
  CHECK_FALSE(engine->is_open());
  engine->close();  // idempotent

  auto c = commit(*engine, note_logged{"y"});
  REQUIRE_FALSE(c);
  CHECK(c.error().code == errc::store_disposed);
  CHECK_THAT(c.error().message, Catch::Contains("todos"));
  auto q = engine->query("SELECT 1");
  REQUIRE_FALSE(q);
  CHECK(q.error().code == errc::store_disposed);
  auto s = engine->subscribe("SELECT 1", {}, [](const nlohmann::json&) {});
  REQUIRE_FALSE(s);
  CHECK(s.error().code == errc::store_disposed);
  auto l = engine->read_events();
  REQUIRE_FALSE(l);
  CHECK(l.error().code == errc::store_disposed);
  auto empty = engine->commit({});
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == errc::store_disposed);
}

TEST_CASE("each memory store starts empty and is private", "[engine][memory]") {
  auto a = open_store<todo_schema>("same-id");
  auto b = open_store<todo_schema>("same-id");
  REQUIRE(commit(*a, todo_added{"a", "only in a"}));
  CHECK(count(*a, "todos") == 1);
  CHECK(count(*b, "todos") == 0);
  a->close();
  auto c = open_store<todo_schema>("same-id");
  CHECK(c->head() == 0);
}

TEST_CASE("a memory store that closed hands the next one of its schema an empty database",
          "[engine][memory]") {
  // Closing `a` keeps its emptied database; `b`, opened next on this
  // thread, takes it. Nothing of `a` may show through.
  auto a = open_store<todo_schema>("recycled-a", multistore::memory_adapter{},
                                   {"client-a", "session-1"});
  REQUIRE(commit(*a, todo_added{"a", "x"}, todo_added{"b", "y"}, todo_completed{"a"},
                 note_logged{"n"}));
  int a_calls = 0;
  auto a_sub = a->subscribe("SELECT count(*) AS n FROM todos", {},
                            [&](const nlohmann::json&) { ++a_calls; });
  REQUIRE(a_sub);
  auto meta = rows(*a, "SELECT key, value FROM __meta ORDER BY key");
  a->close();
  CHECK(a->store_id() == "recycled-a");
  CHECK(a->head() == 4);
  CHECK(commit(*a, note_logged{"late"}).error().code == errc::store_disposed);

  auto b = open_store<todo_schema>("recycled-b", multistore::memory_adapter{},
                                   {"client-b", "session-2"});
  CHECK(b->store_id() == "recycled-b");
  CHECK(b->head() == 0);
  CHECK(b->read_events()->empty());
  for (const auto& t : b->schema().tables())
    CHECK(count(*b, t.name) == 0);
  CHECK(rows(*b, "SELECT key, value FROM __meta ORDER BY key") == meta);

  int b_calls = 0;
  auto b_sub = b->subscribe("SELECT count(*) AS n FROM todos", {},
                            [&](const nlohmann::json&) { ++b_calls; });
  REQUIRE(b_sub);
  CHECK(b_calls == 1);
  a_sub->cancel();  // a's subscription ends nothing of b's
  auto seq = commit(*b, todo_added{"c", "z"});
  REQUIRE(seq);
  CHECK(*seq == 1);
  CHECK(b_calls == 2);
  CHECK(a_calls == 1);
  auto log = b->read_events().value();
  REQUIRE(log.size() == 1);
  CHECK(log[0].client_id == "client-b");
  CHECK(log[0].session_id == "session-2");
  CHECK(rows(*b, "SELECT id, done FROM todos")
        == nlohmann::json::parse(R"([{"id": "c", "done": 0}])"));

  // A store of another schema never gets it.
  b->close();
  auto other = open_store<todo_schema_v2>("recycled-c");
  CHECK(other->head() == 0);
  CHECK(count(*other, "todos") == 0);
}

namespace {

/// Its todos table has a trigger that copies every insert into `audit`, a
/// table no materializer writes.
struct audited_schema {
  static constexpr std::string_view name = "audited";
  using events = multistore::event_list<todo_added>;
  static void define(multistore::schema_builder& b) {
    b.table("todos", "CREATE TABLE todos (id TEXT PRIMARY KEY, text TEXT NOT NULL)");
    b.table("audit",
            "CREATE TABLE audit (n INTEGER PRIMARY KEY, id TEXT NOT NULL);"
            " CREATE TRIGGER todos_audit AFTER INSERT ON todos"
            " BEGIN INSERT INTO audit (id) VALUES (new.id); END");
    b.materialize<todo_added>([](const todo_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO todos (id, text) VALUES (?, ?)", e.id, e.text);
    });
  }
};

}  // namespace

TEST_CASE("nothing a trigger wrote shows through in the next memory store of its schema",
          "[engine][memory]") {
  auto a = open_store<audited_schema>("audited-a");
  REQUIRE(commit(*a, todo_added{"a", "x"}));
  REQUIRE(count(*a, "audit") == 1);
  a->close();
  auto b = open_store<audited_schema>("audited-b");
  CHECK(count(*b, "todos") == 0);
  CHECK(count(*b, "audit") == 0);
  REQUIRE(commit(*b, todo_added{"b", "y"}));
  CHECK(rows(*b, "SELECT n, id FROM audit")
        == nlohmann::json::parse(R"([{"n": 1, "id": "b"}])"));
}

TEST_CASE("more memory stores closed than are kept: every later one starts empty",
          "[engine][memory]") {
  constexpr int n = 40;  // more than the 32 kept per schema
  std::vector<std::unique_ptr<multistore::store_engine>> first;
  for (int i = 0; i < n; ++i) {
    first.push_back(open_store<todo_schema>("kept-" + std::to_string(i)));
    REQUIRE(commit(*first.back(), todo_added{"t" + std::to_string(i), "x"},
                   note_logged{"n"}));
  }
  first.clear();  // closes all 40
  for (int i = 0; i < n; ++i) {
    INFO(i);
    auto e = open_store<todo_schema>("again-" + std::to_string(i));
    CHECK(e->head() == 0);
    CHECK(count(*e, "todos") == 0);
    CHECK(count(*e, "notes") == 0);
    auto seq = commit(*e, note_logged{"first"});
    REQUIRE(seq);
    CHECK(*seq == 1);
    CHECK(rows(*e, "SELECT n FROM notes") == nlohmann::json::parse(R"([{"n": 1}])"));
  }
}

TEST_CASE("an invalid store id is refused before a store opens", "[engine][store_id]") {
  for (const char* id : {"", "a/b", "..", "x.sqlite"}) {
    INFO(id);
    auto r = multistore::store_engine::open(multistore::schema_of<todo_schema>(), id,
                                            multistore::memory_adapter{}, test_identity());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_store_id);
  }
}

TEST_CASE("a number an integer field cannot hold is invalid_event and commits nothing",
          "[engine][invalid]") {
  auto engine = open_store<stock_schema>("stock");
  const std::vector<std::pair<nlohmann::json, std::string>> bad{
      {{{"item", "a"}, {"qty", 1e300}, {"shelf", 1}, {"bins", {1, 2}}}, "'qty'"},
      {{{"item", "a"}, {"qty", 3e9}, {"shelf", 1}, {"bins", {1, 2}}}, "'qty'"},
      {{{"item", "a"}, {"qty", 1.5}, {"shelf", 1}, {"bins", {1, 2}}}, "'qty'"},
      {{{"item", "a"}, {"qty", 1}, {"shelf", -1}, {"bins", {1, 2}}}, "'shelf'"},
      {{{"item", "a"}, {"qty", 1}, {"shelf", -2.0}, {"bins", {1, 2}}}, "'shelf'"},
      {{{"item", "a"}, {"qty", 1}, {"shelf", 1}, {"bins", {1, -1e20}}}, "'bins[1]'"},
  };
  for (const auto& [args, field] : bad) {
    INFO(args.dump());
    auto r = engine->commit(std::vector<event_record>{{"stock_counted", args}});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_event);
    CHECK_THAT(r.error().message, Catch::Contains(field));
  }
  CHECK(engine->head() == 0);
  CHECK(count(*engine, "stock") == 0);
  // Whole numbers arrive as floats from some encoders: those in range decode.
  auto ok = engine->commit(std::vector<event_record>{
      {"stock_counted", {{"item", "a"}, {"qty", 7.0}, {"shelf", 3}, {"bins", {1, 2.0}}}}});
  REQUIRE(ok);
  auto rows = engine->query("SELECT qty, shelf FROM stock");
  REQUIRE(rows);
  CHECK(*rows == nlohmann::json::parse(R"([{"qty":7,"shelf":3}])"));
}

TEST_CASE("the nesting limit counts levels: 256 pass and 257 are too deep", "[engine][invalid]") {
  auto nested = [](std::size_t levels) {
    return nlohmann::json::parse(std::string(levels, '[') + std::string(levels, ']'));
  };
  CHECK_FALSE(multistore::detail::nests_deeper_than(nested(256), 256));
  CHECK(multistore::detail::nests_deeper_than(nested(257), 256));
  CHECK_FALSE(multistore::detail::nests_deeper_than(nlohmann::json(7), 0));
  CHECK(multistore::detail::nests_deeper_than(nlohmann::json::array(), 0));
}

TEST_CASE("arguments nested deeper than 256 levels are invalid_event and harm nothing",
          "[engine][invalid]") {
  auto engine = open_store<todo_schema>("todos");
  const std::size_t depth = 200000;  // recursing through this would overflow the stack
  auto deep = nlohmann::json::parse(std::string(depth, '[') + std::string(depth, ']'));
  // Built by moves only: copying a json value recurses too.
  auto args = nlohmann::json::object();
  args["text"] = "deep";
  args["extra"] = std::move(deep);
  std::vector<event_record> batch;
  batch.push_back(event_record{"note_logged", std::move(args)});
  auto r = engine->commit(batch);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_event);
  CHECK_THAT(r.error().message, Catch::Contains("nested more than 256 levels"));
  CHECK(engine->head() == 0);
  CHECK(commit(*engine, note_logged{"shallow"}).value() == 1);
}
