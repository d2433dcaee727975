#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "multistore/store_engine.hpp"
#include "test_schemas.hpp"

using multistore::errc;
using multistore::sqlite_adapter;
using namespace test_schemas;
namespace fs = std::filesystem;

namespace {

std::set<fs::path> tree(const fs::path& root) {
  std::set<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    out.insert(fs::relative(entry.path(), root));
  return out;
}

template <class S>
multistore::result<std::unique_ptr<multistore::store_engine>> try_open(
    std::string_view id, const multistore::adapter& storage) {
  return multistore::store_engine::open(multistore::schema_of<S>(), id, storage, test_identity());
}

}  // namespace

TEST_CASE("a file store lives at dir/store_id.sqlite and creates its directory", "[file]") {
  temp_dir tmp;
  auto dir = tmp / "nested/stores";
  auto engine = open_store<todo_schema>("issue-42", sqlite_adapter{dir});
  CHECK(fs::exists(dir / "issue-42.sqlite"));
  REQUIRE(commit(*engine, todo_added{"a", "x"}));
  engine->close();
  CHECK(fs::exists(dir / "issue-42.sqlite"));
  CHECK(tree(dir) == std::set<fs::path>{"issue-42.sqlite"});  // WAL checkpointed away
}

TEST_CASE("reopening a file store finds every committed event and the same state",
          "[file][reopen]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  nlohmann::json todos_before;
  std::vector<multistore::stored_event> log_before;
  {
    auto engine = open_store<todo_schema>("reopen", storage);
    REQUIRE(commit(*engine, todo_added{"a", "first"}, todo_added{"b", "second"}));
    REQUIRE(commit(*engine, todo_completed{"a"}));
    REQUIRE(commit(*engine, note_logged{"n"}));
    todos_before = rows(*engine, "SELECT * FROM todos ORDER BY id");
    log_before = engine->read_events().value();
  }  // destroyed without an explicit shutdown
  auto engine = open_store<todo_schema>("reopen", storage, {"client-b", "session-2"});
  CHECK(engine->head() == 4);
  CHECK(rows(*engine, "SELECT * FROM todos ORDER BY id") == todos_before);
  auto log = engine->read_events().value();
  REQUIRE(log.size() == log_before.size());
  for (std::size_t i = 0; i < log.size(); ++i) {
    CHECK(log[i].seq == log_before[i].seq);
    CHECK(log[i].name == log_before[i].name);
    CHECK(log[i].args == log_before[i].args);
    CHECK(log[i].client_id == "client-a");
    CHECK(log[i].time_ms == log_before[i].time_ms);
  }
  CHECK(commit(*engine, note_logged{"more"}).value() == 5);
  CHECK(engine->read_events(4).value().at(0).client_id == "client-b");
}

TEST_CASE("a changed schema rebuilds the state from the log without losing events",
          "[file][evolution]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  {
    auto engine = open_store<todo_schema>("evolve", storage);
    REQUIRE(commit(*engine, todo_added{"a", "four"}, todo_added{"b", "sixteen chars!!"}));
    REQUIRE(commit(*engine, todo_completed{"b"}, note_logged{"kept"}));
    engine->close();
  }
  {
    auto engine = open_store<todo_schema_v2>("evolve", storage);
    CHECK(engine->head() == 4);
    CHECK(engine->read_events().value().size() == 4);
    CHECK(rows(*engine, "SELECT id, done, length FROM todos ORDER BY id")
          == nlohmann::json::parse(
              R"([{"id": "a", "done": 0, "length": 4}, {"id": "b", "done": 1, "length": 15}])"));
    CHECK(count(*engine, "notes") == 1);
    REQUIRE(commit(*engine, todo_added{"c", "xy"}));
    CHECK(rows(*engine, "SELECT length FROM todos WHERE id = 'c'")[0]["length"] == 2);
  }
  // And back: the old layout is rebuilt again, the v2 event included.
  auto engine = open_store<todo_schema>("evolve", storage);
  CHECK(engine->head() == 5);
  CHECK(count(*engine, "todos") == 3);
  CHECK_FALSE(engine->query("SELECT length FROM todos"));
}

TEST_CASE("a log with events the schema does not know is schema_mismatch and keeps them",
          "[file][evolution]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  {
    auto engine = open_store<todo_schema>("foreign", storage);
    REQUIRE(commit(*engine, todo_added{"a", "x"}, todo_completed{"a"}, note_logged{"n"}));
  }
  auto narrow = try_open<narrow_schema>("foreign", storage);
  REQUIRE_FALSE(narrow);
  CHECK(narrow.error().code == errc::schema_mismatch);
  CHECK_THAT(narrow.error().message, Catch::Contains("'note_logged'"));
  CHECK_THAT(narrow.error().message, Catch::Contains("'todo_completed'"));

  // The refusal released the lock and changed nothing.
  auto engine = open_store<todo_schema>("foreign", storage);
  CHECK(engine->head() == 3);
  CHECK(rows(*engine, "SELECT id, done FROM todos")
        == nlohmann::json::parse(R"([{"id": "a", "done": 1}])"));
}

TEST_CASE("a replay that fails under a new schema leaves the store as it was",
          "[file][evolution]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  {
    auto engine = open_store<todo_schema>("refuse", storage);
    REQUIRE(commit(*engine, todo_added{"a", "x"}));
  }
  auto refused = try_open<refusing_schema>("refuse", storage);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::schema_mismatch);
  CHECK_THAT(refused.error().message, Catch::Contains("todo_added is no longer accepted"));
  CHECK_THAT(refused.error().message, Catch::Contains("#1"));

  auto engine = open_store<todo_schema>("refuse", storage);
  CHECK(engine->head() == 1);
  CHECK(count(*engine, "todos") == 1);
}

TEST_CASE("hostile store ids never create files outside the directory", "[file][store_id]") {
  temp_dir tmp;
  auto dir = tmp / "stores";
  const std::vector<std::string> hostile{
      "../escape", "..",       "/tmp/abs",      "a/b",        "a\\b",
      "",          "x.sqlite", "..%2fescape",   "a b",        "semi;colon",
      "-/../../x", "./here",   "~root",         "name\n",     "caf\xc3\xa9",
      std::string("nul\0x", 5), std::string(121, 'x')};
  for (const auto& id : hostile) {
    INFO(id);
    auto r = try_open<todo_schema>(id, sqlite_adapter{dir});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_store_id);
  }
  CHECK_FALSE(fs::exists(dir));  // refused before any path was built
  CHECK(tree(tmp.path()).empty());
}

TEST_CASE("a second opener of a locked file store is refused until the first closes",
          "[file][lock]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  auto first = open_store<todo_schema>("locked", storage);
  REQUIRE(commit(*first, todo_added{"a", "x"}));

  auto second = try_open<todo_schema>("locked", storage);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == errc::load_failed);
  CHECK_THAT(second.error().message, Catch::Contains("is in use"));
  CHECK_THAT(second.error().message, Catch::Contains("locked"));

  // The refused opener did not disturb the owner.
  REQUIRE(commit(*first, todo_added{"b", "y"}));
  CHECK(count(*first, "todos") == 2);

  first->close();
  auto third = try_open<todo_schema>("locked", storage);
  REQUIRE(third);
  CHECK((*third)->head() == 2);
}

TEST_CASE("a store locked by another process is refused and free once that process dies",
          "[file][lock]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  int ready[2];
  int die[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(die) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child owns the store, reports, then dies without shutting down.
    ::close(ready[0]);
    ::close(die[1]);
    auto r = try_open<todo_schema>("shared", storage);
    char status = r ? 'y' : 'n';
    if (r)
      status = commit(**r, note_logged{"from the child"}) ? 'y' : 'n';
    (void)!::write(ready[1], &status, 1);
    char go = 0;
    (void)!::read(die[0], &go, 1);
    ::_exit(0);  // no destructors: the lock dies with the process
  }
  ::close(ready[1]);
  ::close(die[0]);
  char status = 0;
  REQUIRE(::read(ready[0], &status, 1) == 1);
  REQUIRE(status == 'y');

  auto refused = try_open<todo_schema>("shared", storage);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::load_failed);
  CHECK_THAT(refused.error().message, Catch::Contains("is in use"));

  ::close(die[1]);  // EOF: the child exits
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  ::close(ready[0]);

  auto admitted = try_open<todo_schema>("shared", storage);
  REQUIRE(admitted);
  CHECK((*admitted)->head() == 1);
  CHECK(count(**admitted, "notes") == 1);
}

TEST_CASE("file stores use WAL and the chosen synchronous level", "[file]") {
  temp_dir tmp;
  auto normal = open_store<todo_schema>("normal", sqlite_adapter{tmp.path()});
  CHECK(rows(*normal, "PRAGMA synchronous")[0]["synchronous"] == 1);
  normal->close();
  // Bytes 18 and 19 of the header are the file format versions: 2 means WAL.
  std::ifstream in{tmp / "normal.sqlite", std::ios::binary};
  char header[20] = {};
  REQUIRE(in.read(header, sizeof header));
  CHECK(header[18] == 2);
  CHECK(header[19] == 2);
  auto full = open_store<todo_schema>(
      "full", sqlite_adapter{tmp.path(), multistore::sync_level::full});
  CHECK(rows(*full, "PRAGMA synchronous")[0]["synchronous"] == 2);
}

TEST_CASE("a file that is not a multistore store is refused", "[file]") {
  temp_dir tmp;
  {
    std::ofstream out{tmp / "garbage.sqlite", std::ios::binary};
    out << std::string(8192, 'g');
  }
  auto garbage = try_open<todo_schema>("garbage", sqlite_adapter{tmp.path()});
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().code == errc::load_failed);

  CHECK(fs::file_size(tmp / "garbage.sqlite") == 8192);

  // An SQLite database of someone else's is neither adopted nor changed.
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((tmp / "theirs.sqlite").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE theirs (x); INSERT INTO theirs VALUES (1)", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto theirs = try_open<todo_schema>("theirs", sqlite_adapter{tmp.path()});
  REQUIRE_FALSE(theirs);
  CHECK(theirs.error().code == errc::load_failed);
  CHECK_THAT(theirs.error().message, Catch::Contains("not a multistore store"));
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmp / "theirs.sqlite").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, nullptr)
          == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("a symbolic link in place of a store file is refused", "[file]") {
  temp_dir tmp;
  auto target = tmp / "elsewhere.db";
  fs::create_directories(tmp / "stores");
  fs::create_symlink(target, tmp / "stores/link.sqlite");
  auto r = try_open<todo_schema>("link", sqlite_adapter{tmp / "stores"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::load_failed);
  CHECK_FALSE(fs::exists(target));
}

TEST_CASE("100000 events are committed and replayed", "[file][volume]") {
  temp_dir tmp;
  sqlite_adapter storage{tmp.path()};
  constexpr int batches = 100;
  constexpr int per_batch = 1000;
  {
    auto engine = open_store<todo_schema>("volume", storage);
    std::vector<multistore::event_record> batch;
    for (int b = 0; b < batches; ++b) {
      batch.clear();
      for (int i = 0; i < per_batch; ++i) {
        auto n = b * per_batch + i;
        batch.push_back(
            {"todo_added", {{"id", std::to_string(n)}, {"text", "todo " + std::to_string(n)}}});
      }
      REQUIRE(engine->commit(batch));
    }
    CHECK(engine->head() == 100000);
  }
  auto engine = open_store<todo_schema_v2>("volume", storage);  // replays the whole log
  CHECK(engine->head() == 100000);
  CHECK(count(*engine, "todos") == 100000);
  CHECK(count(*engine, "__events") == 100000);
  CHECK(rows(*engine, "SELECT text, length FROM todos WHERE id = '99999'")
        == nlohmann::json::parse(R"([{"text": "todo 99999", "length": 10}])"));
  CHECK(rows(*engine, "SELECT sum(length) AS total FROM todos")[0]["total"]
        == 100000 * 5 + 10 * 1 + 90 * 2 + 900 * 3 + 9000 * 4 + 90000 * 5);
}
