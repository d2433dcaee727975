// store_handle and boot through the fixture.
#include <catch2/catch.hpp>

#include <vector>

#include "multistore/store_registry.hpp"
#include "multistore/testing.hpp"
#include "expect_error.hpp"
#include "schemas.hpp"
#include "temp_dir.hpp"

#include <caf/actor_system.hpp>

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_options;
using multistore::store_state;
using test_schemas::comment_added;
using test_schemas::issue_created;
using test_schemas::issue_schema;
using test_schemas::status_changed;

namespace {

struct issue_row {
  std::string id;
  std::string title;
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_row, id, title, status)

}  // namespace

TEST_CASE("a handle commits atomically and queries with bound parameters", "[handle]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "issue-1"});
  CHECK(h.store_id() == "issue-1");
  auto seq = h.commit(issue_created{"1", "Crash on save"}, status_changed{"1", "closed"});
  CHECK(seq == 2);
  auto rows = h.query_as<issue_row>("SELECT id, title, status FROM issues WHERE id = ?", "1");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].title == "Crash on save");
  CHECK(rows[0].status == "closed");
}

TEST_CASE("a row that does not convert is query_failed as in boot's store", "[handle]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "issue-1"});
  h.commit(issue_created{"1", "Crash on save"});
  // The row lacks the status column that issue_row needs.
  CHECK(code_of([&] { h.query_as<issue_row>("SELECT id, title FROM issues"); })
        == multistore::errc::query_failed);
  CHECK(h.query_as<issue_row>("SELECT id, title, status FROM issues").size() == 1);
}

TEST_CASE("a failing commit leaves the store unchanged and serving", "[handle]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "issue-1"});
  h.commit(issue_created{"1", "first"});
  // The second event violates the primary key: the whole batch is refused.
  CHECK(code_of([&] { h.commit(issue_created{"2", "second"}, issue_created{"1", "dup"}); })
        == errc::storage_failed);
  CHECK(h.query("SELECT count(*) AS n FROM issues")[0]["n"] == 1);
  CHECK(h.commit(issue_created{"2", "second"}) == 2);
}

TEST_CASE("a writing query is refused with query_failed", "[handle]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "issue-1"});
  CHECK(code_of([&] { h.query("DELETE FROM issues"); }) == errc::query_failed);
  CHECK(code_of([&] { h.query("SELECT nope FROM nowhere"); }) == errc::query_failed);
}

TEST_CASE("a subscription is called for related commits only", "[handle][subscribe]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "issue-1"});
  std::vector<nlohmann::json> seen;
  auto sub = h.subscribe("SELECT count(*) AS n FROM issues",
                         [&](const nlohmann::json& rows) { seen.push_back(rows); });
  fx.run();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0][0]["n"] == 0);
  h.commit(comment_added{"1", "unrelated table"});
  fx.run();
  CHECK(seen.size() == 1);
  h.commit(issue_created{"1", "one"});
  fx.run();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1][0]["n"] == 1);
  sub.cancel();
  h.commit(issue_created{"2", "two"});
  fx.run();
  CHECK(seen.size() == 2);
}

TEST_CASE("boot runs once per loaded instance before anyone gets the store", "[handle][boot]") {
  multistore::testing::fixture fx;
  int boots = 0;
  store_options<issue_schema> opts{
      .store_id = "workspace-root",
      .gc_time = 1s,
      .boot = [&](multistore::store<issue_schema>& s) {
        ++boots;
        if (s.query("SELECT count(*) AS n FROM issues")[0]["n"] == 0)
          s.commit(issue_created{"welcome", "Welcome"});
      }};
  auto a = fx.use(opts);
  auto b = fx.use(opts);
  CHECK(boots == 1);
  CHECK(a.query("SELECT title FROM issues")[0]["title"] == "Welcome");
  a.release();
  b.release();
  fx.advance(1s);
  CHECK(fx.inspect("workspace-root").state == store_state::disposed);
  auto c = fx.use(opts);
  CHECK(boots == 2);
}

TEST_CASE("a boot that throws is a load error that is not cached", "[handle][boot]") {
  multistore::testing::fixture fx;
  bool fail = true;
  store_options<issue_schema> opts{.store_id = "flaky",
                                   .boot = [&](multistore::store<issue_schema>&) {
                                     if (fail)
                                       throw std::runtime_error("disk says no");
                                   }};
  try {
    fx.use(opts);
    FAIL("use should throw");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::load_failed);
    CHECK_THAT(e.what(), Catch::Contains("disk says no"));
  }
  CHECK(fx.inspect("flaky").state == store_state::disposed);
  fail = false;
  auto h = fx.use(opts);
  CHECK(fx.inspect("flaky").state == store_state::active);
  CHECK(fx.inspect("flaky").loads == 2);
}

TEST_CASE("a file store keeps its events across dispose and reload", "[handle][file]") {
  temp_dir dir;
  multistore::testing::fixture fx;
  store_options<issue_schema> opts{.store_id = "issue-7",
                                   .storage = multistore::sqlite_adapter{dir.path()},
                                   .gc_time = 0ms};
  fx.use(opts).commit(issue_created{"7", "persisted"});
  fx.run();
  CHECK(fx.inspect("issue-7").state == store_state::disposed);
  CHECK(std::filesystem::exists(dir.path() / "issue-7.sqlite"));
  auto h = fx.use(opts);
  CHECK(h.query("SELECT title FROM issues")[0]["title"] == "persisted");
}

TEST_CASE("a released handle throws store_disposed and releases once", "[handle]") {
  multistore::testing::fixture fx;
  auto h = fx.use(store_options<issue_schema>{.store_id = "x", .gc_time = 5s});
  auto other = fx.use(store_options<issue_schema>{.store_id = "x", .gc_time = 5s});
  h.release();
  h.release();
  CHECK(fx.inspect("x").observers == 1);
  CHECK(code_of([&] { h.query("SELECT 1"); }) == errc::store_disposed);
  auto moved = std::move(other);
  CHECK(fx.inspect("x").observers == 1);
}

TEST_CASE("use_store_registry needs an installed registry", "[handle]") {
  multistore::testing::fixture fx;
  CHECK(code_of([&] { multistore::use_store_registry(fx.system()); }) == errc::no_registry);
}
