#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "multistore/store_engine.hpp"
#include "multistore/subscription.hpp"
#include "test_schemas.hpp"

using multistore::errc;
using multistore::sql_value;
using namespace test_schemas;

namespace {

/// Records every result a subscription delivers.
struct recorder {
  std::vector<nlohmann::json> calls;
  multistore::store_engine::subscriber fn() {
    return [this](const nlohmann::json& rows) { calls.push_back(rows); };
  }
};

multistore::subscription subscribe(multistore::store_engine& engine, std::string sql,
                                   recorder& rec, std::vector<sql_value> params = {}) {
  auto sub = engine.subscribe(std::move(sql), std::move(params), rec.fn());
  if (!sub)
    throw std::runtime_error("subscribe failed: " + sub.error().message);
  return std::move(*sub);
}

}  // namespace

TEST_CASE("a subscription delivers the first result before subscribe returns", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  recorder rec;
  auto sub = subscribe(*engine, "SELECT id FROM todos", rec);
  CHECK(sub.active());
  REQUIRE(rec.calls.size() == 1);
  CHECK(rec.calls[0] == nlohmann::json::parse(R"([{"id": "a"}])"));
}

TEST_CASE("a subscription skips commits to unrelated tables and is called once for a related one",
          "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine, "SELECT count(*) AS n FROM todos", rec);
  REQUIRE(rec.calls.size() == 1);

  REQUIRE(commit(*engine, note_logged{"unrelated"}));
  CHECK(rec.calls.size() == 1);

  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  REQUIRE(rec.calls.size() == 2);
  CHECK(rec.calls[1] == nlohmann::json::parse(R"([{"n": 1}])"));

  // One call per commit, however many events of the batch touched the table.
  REQUIRE(commit(*engine, todo_added{"b", "y"}, todo_added{"c", "z"}, note_logged{"n"}));
  REQUIRE(rec.calls.size() == 3);
  CHECK(rec.calls[2] == nlohmann::json::parse(R"([{"n": 3}])"));
}

TEST_CASE("a subscription is not called when a related commit leaves its result unchanged",
          "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine, "SELECT id FROM todos WHERE done = 1", rec);
  REQUIRE(commit(*engine, todo_added{"a", "x"}));  // writes todos but no row is done
  CHECK(rec.calls.size() == 1);
  REQUIRE(commit(*engine, todo_completed{"a"}));
  REQUIRE(rec.calls.size() == 2);
  CHECK(rec.calls[1] == nlohmann::json::parse(R"([{"id": "a"}])"));
  REQUIRE(commit(*engine, todo_completed{"a"}));  // already done: same result
  CHECK(rec.calls.size() == 2);
}

TEST_CASE("a subscription over a join reruns for writes to any table it reads", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine,
                       "SELECT (SELECT count(*) FROM todos) AS todos,"
                       " (SELECT count(*) FROM notes) AS notes",
                       rec);
  REQUIRE(commit(*engine, note_logged{"n"}));
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  REQUIRE(rec.calls.size() == 3);
  CHECK(rec.calls[2] == nlohmann::json::parse(R"([{"todos": 1, "notes": 1}])"));
}

TEST_CASE("a subscription with bound parameters reruns with them", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine, "SELECT text FROM todos WHERE id = ?", rec, {std::string{"b"}});
  REQUIRE(commit(*engine, todo_added{"a", "not me"}));
  CHECK(rec.calls.size() == 1);
  REQUIRE(commit(*engine, todo_added{"b", "me"}));
  REQUIRE(rec.calls.size() == 2);
  CHECK(rec.calls[1] == nlohmann::json::parse(R"([{"text": "me"}])"));
}

TEST_CASE("a subscription to the event log is called for every commit", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine, "SELECT max(seq) AS head FROM __events", rec);
  REQUIRE(commit(*engine, note_logged{"a"}));
  REQUIRE(commit(*engine, todo_added{"a", "x"}, note_logged{"b"}));
  REQUIRE(rec.calls.size() == 3);
  CHECK(rec.calls[2][0]["head"] == 3);
}

TEST_CASE("a failed commit calls no subscription", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder rec;
  auto sub = subscribe(*engine, "SELECT count(*) AS n FROM notes", rec);
  REQUIRE_FALSE(commit(*engine, note_logged{"a"}, flaky_happened{true}));
  CHECK(rec.calls.size() == 1);
  // The failed commit's writes are not remembered as changes of the next one.
  recorder todos;
  auto sub2 = subscribe(*engine, "SELECT count(*) AS n FROM todos", todos);
  REQUIRE(commit(*engine, note_logged{"b"}));
  CHECK(todos.calls.size() == 1);
  CHECK(rec.calls.size() == 2);
}

TEST_CASE("a cancelled or destroyed subscription is not called again", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  recorder cancelled;
  recorder destroyed;
  recorder kept;
  auto a = subscribe(*engine, "SELECT count(*) AS n FROM todos", cancelled);
  auto c = subscribe(*engine, "SELECT count(*) AS n FROM todos", kept);
  {
    auto b = subscribe(*engine, "SELECT count(*) AS n FROM todos", destroyed);
  }
  a.cancel();
  CHECK_FALSE(a.active());
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  CHECK(cancelled.calls.size() == 1);
  CHECK(destroyed.calls.size() == 1);
  CHECK(kept.calls.size() == 2);
}

TEST_CASE("a callback may cancel its own subscription", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  std::optional<multistore::subscription> self;
  int calls = 0;
  auto sub = engine->subscribe("SELECT count(*) AS n FROM todos", {},
                               [&](const nlohmann::json&) {
                                 ++calls;
                                 if (calls == 2)
                                   self.reset();
                               });
  REQUIRE(sub);
  self.emplace(std::move(*sub));
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  REQUIRE(commit(*engine, todo_added{"b", "x"}));
  CHECK(calls == 2);
  CHECK_FALSE(self.has_value());
}

TEST_CASE("a callback that throws does not undo the commit", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  int calls = 0;
  auto sub = engine->subscribe("SELECT count(*) AS n FROM todos", {},
                               [&](const nlohmann::json&) {
                                 if (++calls > 1)
                                   throw std::runtime_error("subscriber bug");
                               });
  REQUIRE(sub);
  auto r = commit(*engine, todo_added{"a", "x"});
  REQUIRE(r);
  CHECK(calls == 2);
  CHECK(count(*engine, "todos") == 1);
}

TEST_CASE("a subscription may outlive its engine", "[subscribe][lifecycle]") {
  recorder rec;
  multistore::subscription sub;
  {
    auto engine = open_store<todo_schema>("s");
    sub = subscribe(*engine, "SELECT count(*) AS n FROM todos", rec);
    engine->close();
    REQUIRE_FALSE(commit(*engine, todo_added{"a", "x"}));
  }
  CHECK(sub.active());
  sub.cancel();  // the engine is gone: a no-op, not a crash
  CHECK(rec.calls.size() == 1);
}

TEST_CASE("subscribing to a writing or broken statement is query_failed", "[subscribe]") {
  auto engine = open_store<todo_schema>("s");
  int calls = 0;
  auto counting = [&](const nlohmann::json&) { ++calls; };
  auto writes = engine->subscribe("DELETE FROM todos", {}, counting);
  REQUIRE_FALSE(writes);
  CHECK(writes.error().code == errc::query_failed);
  auto broken = engine->subscribe("SELECT nope FROM todos", {}, counting);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code == errc::query_failed);
  CHECK_THAT(broken.error().message, Catch::Contains("no such column: nope"));
  auto params = engine->subscribe("SELECT ?", {}, counting);
  REQUIRE_FALSE(params);
  CHECK(params.error().code == errc::query_failed);
  CHECK(calls == 0);
}
