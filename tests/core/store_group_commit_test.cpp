// store_engine::commit_group: independent commits in one transaction.
#include <catch2/catch.hpp>

#include <span>
#include <vector>

#include "multistore/store_engine.hpp"
#include "test_schemas.hpp"

using multistore::errc;
using multistore::event_record;
using namespace test_schemas;

namespace {

using batch = std::vector<event_record>;

std::vector<multistore::result<std::uint64_t>> commit_group(multistore::store_engine& engine,
                                                            const std::vector<batch>& batches) {
  std::vector<std::span<const event_record>> spans(batches.begin(), batches.end());
  return engine.commit_group(spans);
}

}  // namespace

TEST_CASE("a group commit keeps each batch all or nothing on its own", "[engine][group]") {
  auto engine = open_store<todo_schema>("todos");
  REQUIRE(commit(*engine, todo_added{"dup", "already here"}));

  // The second batch breaks the primary key in its second event, the fourth
  // names an event the schema lacks, the fifth has a materializer that throws.
  auto r = commit_group(*engine, {multistore::encode_events(todo_added{"a", "1"}, note_logged{"2"}),
                                  multistore::encode_events(todo_added{"b", "3"},
                                                            todo_added{"dup", "4"}),
                                  multistore::encode_events(todo_completed{"a"}),
                                  batch{{"no_such_event", nlohmann::json::object()}},
                                  multistore::encode_events(flaky_happened{true}),
                                  multistore::encode_events(note_logged{"6"})});
  REQUIRE(r.size() == 6);
  CHECK(r[0].value_or(0) == 3);
  REQUIRE_FALSE(r[1]);
  CHECK(r[1].error().code == errc::storage_failed);
  CHECK_THAT(r[1].error().message, Catch::Contains("UNIQUE constraint failed: todos.id"));
  CHECK(r[2].value_or(0) == 4);
  REQUIRE_FALSE(r[3]);
  CHECK(r[3].error().code == errc::invalid_event);
  REQUIRE_FALSE(r[4]);
  CHECK(r[4].error().code == errc::storage_failed);
  CHECK(r[5].value_or(0) == 5);

  // Exactly the batches that succeeded, numbered without gaps.
  CHECK(engine->head() == 5);
  auto log = engine->read_events();
  REQUIRE(log);
  std::vector<std::string> names;
  for (const auto& e : *log)
    names.push_back(std::to_string(e.seq) + " " + e.name);
  CHECK(names == std::vector<std::string>{"1 todo_added", "2 todo_added", "3 note_logged",
                                          "4 todo_completed", "5 note_logged"});
  CHECK(rows(*engine, "SELECT id, done FROM todos ORDER BY id")
        == nlohmann::json::parse(R"([{"id":"a","done":1},{"id":"dup","done":0}])"));
  CHECK(count(*engine, "notes") == 2);
  CHECK(commit(*engine, todo_added{"b", "again"}).value() == 6);
}

TEST_CASE("a group commit survives a reopen like separate commits", "[engine][group][file]") {
  temp_dir dir;
  {
    auto engine = open_store<todo_schema>("grouped", multistore::sqlite_adapter{dir.path()});
    auto r = commit_group(*engine, {multistore::encode_events(todo_added{"a", "x"}),
                                    multistore::encode_events(todo_added{"b", "y"})});
    REQUIRE(r.size() == 2);
    CHECK(r[1].value_or(0) == 2);
  }
  auto engine = open_store<todo_schema>("grouped", multistore::sqlite_adapter{dir.path()});
  CHECK(engine->head() == 2);
  CHECK(count(*engine, "todos") == 2);
}

TEST_CASE("a group commit notifies each subscription once", "[engine][group][subscribe]") {
  auto engine = open_store<todo_schema>("todos");
  std::vector<nlohmann::json> seen;
  auto sub = engine->subscribe("SELECT count(*) AS n FROM todos", {},
                               [&](const nlohmann::json& r) { seen.push_back(r); });
  REQUIRE(sub);
  auto r = commit_group(*engine, {multistore::encode_events(todo_added{"a", "x"}),
                                  multistore::encode_events(todo_added{"b", "y"}),
                                  multistore::encode_events(todo_added{"c", "z"})});
  REQUIRE(r.size() == 3);
  REQUIRE(seen.size() == 2);
  CHECK(seen[1][0]["n"] == 3);

  // A group in which every batch fails changes nothing and notifies nobody.
  auto failed = commit_group(*engine, {multistore::encode_events(todo_added{"a", "again"}),
                                       multistore::encode_events(flaky_happened{true})});
  CHECK_FALSE(failed[0]);
  CHECK_FALSE(failed[1]);
  CHECK(engine->head() == 3);
  CHECK(seen.size() == 2);
}

TEST_CASE("a group commit on a shut down engine is store_disposed for every batch",
          "[engine][group][lifecycle]") {
  auto engine = open_store<todo_schema>("todos");
  engine->close();
  auto r = commit_group(*engine, {multistore::encode_events(todo_added{"a", "x"}),
                                  multistore::encode_events(todo_added{"b", "y"})});
  REQUIRE(r.size() == 2);
  for (const auto& each : r) {
    REQUIRE_FALSE(each);
    CHECK(each.error().code == errc::store_disposed);
  }
}
