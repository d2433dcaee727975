// The durability tests are only as good as ledger::check_store: these cases
// break a store file on purpose and make sure the checker notices.
#include <catch2/catch.hpp>

#include <random>

#include <sqlite3.h>

#include "ledger.hpp"
#include "multistore/store.hpp"
#include "multistore/store_engine.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using ledger::ledger_schema;

namespace {

/// Three batches (3, 2 and 2 events: #1-3, #4-5, #6-7) in `<dir>/s.sqlite`.
ledger::outcomes make_ledger(const fs::path& dir) {
  auto engine = multistore::store_engine::open(multistore::schema_of<ledger_schema>(), "s",
                                               multistore::sqlite_adapter{dir}, {"c", "s"});
  REQUIRE(engine);
  multistore::store<ledger_schema> s{**engine};
  std::mt19937_64 rng{3};
  ledger::outcomes known;
  for (auto [batch, size] : {std::pair{"b0", 3}, std::pair{"b1", 2}, std::pair{"b2", 2}})
    known.acked[batch] = {ledger::commit_batch(s, ledger::make_batch(batch, size, rng)), size};
  (*engine)->close();
  return known;
}

void exec(const fs::path& file, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

bool mentions(const ledger::report& r, const std::string& what) {
  for (const auto& p : r.problems)
    if (p.find(what) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("the store checker accepts a sound store and reports every kind of damage",
          "[reliability][checker]") {
  temp_dir tmp;
  const auto dir = tmp.path() / "stores";
  const auto scratch = tmp.path() / "replay";
  const auto known = make_ledger(dir);
  const auto file = dir / "s.sqlite";
  const auto pristine = tmp.path() / "pristine.sqlite";
  fs::copy_file(file, pristine);
  auto restore = [&] { fs::copy_file(pristine, file, fs::copy_options::overwrite_existing); };

  auto sound = ledger::check_store(dir, "s", known, scratch);
  CHECK(sound.problems == std::vector<std::string>{});
  CHECK(sound.events == 7);
  CHECK(sound.batches == 3);

  SECTION("an acknowledged batch missing from the log") {
    auto k = known;
    k.acked["b3"] = {8, 1};
    CHECK(mentions(ledger::check_store(dir, "s", k, scratch), "acknowledged batch b3 (#8) is lost"));
  }
  SECTION("an acknowledged batch at another sequence number") {
    auto k = known;
    k.acked["b1"].last_seq = 4;
    CHECK(mentions(ledger::check_store(dir, "s", k, scratch), "batch b1 was acknowledged as #4"));
  }
  SECTION("a refused batch in the log") {
    auto k = known;
    k.failed.insert("b2");
    CHECK(mentions(ledger::check_store(dir, "s", k, scratch),
                   "batch b2 answered with an error but is in the log"));
  }
  SECTION("a torn batch") {
    exec(file, "DELETE FROM __events WHERE seq = 7");
    auto k = known;
    k.acked.erase("b2");  // even an unacknowledged batch must be whole
    CHECK(mentions(ledger::check_store(dir, "s", k, scratch), "batch b2 is torn: 1 of 2"));
    restore();
  }
  SECTION("a gap in the sequence numbers") {
    exec(file, "DELETE FROM __events WHERE seq = 2");
    CHECK(mentions(ledger::check_store(dir, "s", known, scratch),
                   "event 2 of the log has sequence number 3"));
    restore();
  }
  SECTION("state that differs from a replay of the log") {
    exec(file, "UPDATE entries SET amount = amount + 1 WHERE batch = 'b1' AND idx = 0");
    auto r = ledger::check_store(dir, "s", known, scratch);
    CHECK(mentions(r, "as reopened: the entries table"));
    CHECK_FALSE(mentions(r, "as reopened: totals"));
    CHECK_FALSE(mentions(r, "rebuilt from its log"));  // the replay repairs it
    restore();
  }
  SECTION("totals that differ from a replay of the log") {
    exec(file, "UPDATE totals SET n = n + 1");
    CHECK(mentions(ledger::check_store(dir, "s", known, scratch), "as reopened: totals"));
    restore();
  }
  SECTION("a missing file with acknowledged commits") {
    CHECK(mentions(ledger::check_store(tmp.path() / "elsewhere", "s", known, scratch),
                   "the file is missing but 3 commits were acknowledged"));
  }
}
