// The devtools server over real HTTP (cpp-httplib's client, 127.0.0.1), on a
// real registry: every route, the token, disable_devtools, paging and caps,
// hostile ids and table names, stores that are not loaded, no lease kept.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "multistore/devtools.hpp"
#include "multistore/multistore.hpp"
#include "prometheus_text.hpp"
#include "schemas.hpp"
#include "system_fixture.hpp"

using namespace std::chrono_literals;
using multistore::store_options;
using multistore::store_state;
using nlohmann::json;
using test_schemas::comment_added;
using test_schemas::issue_created;
using test_schemas::issue_schema;
using test_schemas::note_added;
using test_schemas::notes_schema;

namespace {

store_options<issue_schema> issue(std::string id, bool disable_devtools = false) {
  return {.store_id = std::move(id),
          .storage = multistore::memory_adapter{},
          .gc_time = 1h,
          .disable_devtools = disable_devtools};
}

/// One registry with a served devtools page and a client for it.
struct served {
  system_fixture s;
  multistore::store_registry registry{s.sys};
  multistore::devtools_server devtools;
  httplib::Client client;

  explicit served(multistore::devtools_options o = {})
      : devtools(registry, std::move(o)), client("127.0.0.1", devtools.port()) {
    client.set_read_timeout(20s);
  }

  /// GET `path`: the status and the body parsed as JSON (which every answer but / and /metrics is).
  std::pair<int, json> get(const std::string& path, const httplib::Headers& headers = {}) {
    auto res = client.Get(path, headers);
    REQUIRE(res);
    INFO(path << " -> " << res->status << " " << res->body);
    auto body = json::parse(res->body, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    if (res->status != 200) {
      CHECK(body["message"].is_string());
      CHECK(body["error"].is_string());
    }
    return {res->status, body};
  }
};

}  // namespace

TEST_CASE("devtools list the stores and show one store's events, tables and subscriptions",
          "[devtools]") {
  served d;
  CHECK(d.devtools.port() != 0);
  CHECK(d.devtools.url() == "http://127.0.0.1:" + std::to_string(d.devtools.port()) + "/");
  {
    auto h = d.registry.use(issue("issue-1"));
    h.commit(issue_created{"1", "first"});
    h.commit(comment_added{"1", "hello"});
    h.commit(comment_added{"1", "again"});
    auto sub = h.subscribe("SELECT count(*) AS n FROM comments", [](const json&) {});
    auto notes = d.registry.use(store_options<notes_schema>{
        .store_id = "notes-1", .storage = multistore::memory_adapter{}, .gc_time = 1h});
    notes.commit(note_added{"n"});

    auto [status, list] = d.get("/api/stores");
    REQUIRE(status == 200);
    REQUIRE(list["stores"].size() == 2);
    const auto& first = list["stores"][0];
    CHECK(first["id"] == "issue-1");  // sorted by id
    CHECK(first["phase"] == "active");
    CHECK(first["observers"] == 1);
    CHECK(first["gc_time_ms"] == 3600000);
    CHECK(first["head"] == 3);
    CHECK(first["subscriptions"] == 1);
    CHECK(first["pending_commits"] == 0);
    CHECK(first["loads"] == 1);
    CHECK(first["schema"] == "issue");
    CHECK(list["stores"][1]["id"] == "notes-1");

    auto [s2, one] = d.get("/api/stores/issue-1");
    REQUIRE(s2 == 200);
    CHECK(one["tables"] == json::array({"issues", "comments"}));
    CHECK(one["subscriptions"] == 1);  // the row's count stays
    REQUIRE(one["subscription_queries"].size() == 1);
    CHECK(one["subscription_queries"][0]["sql"] == "SELECT count(*) AS n FROM comments");
    CHECK(one["head"] == 3);

    auto [s3, events] = d.get("/api/stores/issue-1/events");
    REQUIRE(s3 == 200);
    REQUIRE(events["events"].size() == 3);
    CHECK(events["order"] == "newest_first");
    CHECK(events["events"][0]["seq"] == 3);
    CHECK(events["events"][0]["name"] == "comment_added");
    CHECK(events["events"][0]["args"]["text"] == "again");  // arguments as JSON, not text
    CHECK(events["events"][2]["name"] == "issue_created");
    CHECK(events["events"][2]["client_id"].is_string());
    CHECK(events["events"][2]["session_id"].is_string());
    CHECK(events["events"][2]["time_ms"].is_number());

    auto [s4, tables] = d.get("/api/stores/issue-1/tables");
    REQUIRE(s4 == 200);
    CHECK(tables["tables"] == json::parse(R"([{"name":"issues","rows":1},{"name":"comments","rows":2}])"));
    auto [s5, rows] = d.get("/api/stores/issue-1/tables/comments");
    REQUIRE(s5 == 200);
    CHECK(rows["total"] == 2);
    REQUIRE(rows["rows"].size() == 2);
    CHECK(rows["rows"][0]["text"] == "hello");
  }
  // The handles are gone: inactive, still readable, and reading keeps no lease.
  auto [status, one] = d.get("/api/stores/issue-1/events");
  CHECK(status == 200);
  CHECK(d.registry.inspect("issue-1").state == store_state::inactive);
  CHECK(d.registry.inspect("issue-1").observers == 0);
  CHECK(d.registry.stats().leases == 0);
}

TEST_CASE("devtools page events both ways and cap every page at 1000 rows", "[devtools]") {
  served d;
  auto h = d.registry.use(issue("paged"));
  for (int i = 0; i < 1205; i += 5) {
    auto c = [&](int k) { return comment_added{"1", std::to_string(i + k)}; };
    h.commit(c(0), c(1), c(2), c(3), c(4));
  }

  auto [s1, newest] = d.get("/api/stores/paged/events?limit=2");
  REQUIRE(s1 == 200);
  CHECK(newest["events"][0]["seq"] == 1205);
  CHECK(newest["events"][1]["seq"] == 1204);
  auto [s2, older] = d.get("/api/stores/paged/events?limit=2&before=1204");
  CHECK(older["events"][0]["seq"] == 1203);
  auto [s3, after] = d.get("/api/stores/paged/events?after=10&limit=3");
  CHECK(after["order"] == "oldest_first");
  CHECK(after["events"][0]["seq"] == 11);
  CHECK(after["events"].size() == 3);
  auto [s4, capped] = d.get("/api/stores/paged/events?limit=5000");
  CHECK(s4 == 200);
  CHECK(capped["limit"] == 1000);
  CHECK(capped["events"].size() == 1000);
  auto [s5, rows] = d.get("/api/stores/paged/tables/comments?limit=100000&offset=1200");
  CHECK(rows["limit"] == 1000);
  CHECK(rows["rows"].size() == 5);
  CHECK(rows["total"] == 1205);
  CHECK(rows["rows"][0]["text"] == "1200");

  for (const char* bad : {"/api/stores/paged/events?limit=0", "/api/stores/paged/events?limit=-1",
                          "/api/stores/paged/events?limit=ten", "/api/stores/paged/events?after=1&before=3",
                          "/api/stores/paged/tables/comments?offset=x"}) {
    INFO(bad);
    CHECK(d.get(bad).first == 400);
  }
}

TEST_CASE("devtools refuse hostile input with JSON errors and touch nothing", "[devtools]") {
  served d;
  auto h = d.registry.use(issue("issue-1"));
  h.commit(issue_created{"1", "x"});
  const auto loads = d.registry.stats().loads;

  CHECK(d.get("/api/stores/not-loaded").first == 404);
  CHECK(d.get("/api/stores/not-loaded/events").first == 404);
  CHECK(d.get("/api/stores/not-loaded/tables").first == 404);
  CHECK(d.get("/api/stores/not-loaded/tables/issues").first == 404);
  CHECK(d.registry.inspect("not-loaded").state == store_state::disposed);  // not loaded by it
  CHECK(d.registry.stats().loads == loads);

  for (const char* bad : {"/api/stores/bad%20id", "/api/stores/..%2F..%2Fetc", "/api/stores/a.b/events",
                          "/api/stores/%27%3B--/tables", "/api/stores/"}) {
    INFO(bad);
    CHECK(d.get(bad).first == 400);
  }
  std::string long_id(121, 'a');
  CHECK(d.get("/api/stores/" + long_id).first == 400);

  for (const char* table : {"__events", "__meta", "sqlite_master", "issues%22%3B%20DROP%20TABLE%20issues%3B--",
                            "nope"}) {
    INFO(table);
    CHECK(d.get(std::string{"/api/stores/issue-1/tables/"} + table).first == 404);
  }
  CHECK(d.get("/api/nothing").first == 404);
  CHECK(d.get("/api/stores/issue-1/elsewhere").first == 404);
  CHECK(h.query("SELECT count(*) AS n FROM issues")[0]["n"] == 1);  // intact
  auto res = d.client.Post("/api/stores", "{}", "application/json");
  REQUIRE(res);
  CHECK(res->status >= 400);  // read-only
}

TEST_CASE("a store with disable_devtools shows its id and phase only", "[devtools]") {
  served d;
  auto h = d.registry.use(issue("secret", /*disable_devtools=*/true));
  h.commit(issue_created{"1", "hidden"});
  auto [status, list] = d.get("/api/stores");
  REQUIRE(list["stores"].size() == 1);
  CHECK(list["stores"][0] == json::parse(R"({"id":"secret","phase":"active","devtools":false})"));
  auto [s2, one] = d.get("/api/stores/secret");
  CHECK(s2 == 200);
  CHECK(one == json::parse(R"({"id":"secret","phase":"active","devtools":false})"));
  CHECK(d.get("/api/stores/secret/events").first == 403);
  CHECK(d.get("/api/stores/secret/tables").first == 403);
  CHECK(d.get("/api/stores/secret/tables/issues").first == 403);
}

TEST_CASE("a store that is still loading shows its row and answers 404 to reads until it is loaded",
          "[devtools]") {
  served d;
  std::promise<void> release;
  auto gate = release.get_future().share();
  auto opts = issue("slow");
  opts.boot = [gate](multistore::store<issue_schema>&) { gate.wait(); };
  auto loaded = d.registry.preload(opts);
  json row;
  for (int i = 0; i < 2000 && row["phase"] != "loading"; ++i) {
    auto [status, one] = d.get("/api/stores/slow");
    if (status == 200)
      row = one;
    else
      std::this_thread::sleep_for(1ms);
  }
  CHECK(row["phase"] == "loading");
  CHECK(row["loads"] == 1);  // counted as it begins
  CHECK_FALSE(row.contains("tables"));
  CHECK(d.get("/api/stores/slow/events").first == 404);
  CHECK(d.get("/api/stores/slow/tables").first == 404);
  release.set_value();
  loaded.get();
  auto [status, one] = d.get("/api/stores/slow");
  CHECK(status == 200);
  CHECK(one["phase"] == "inactive");
  CHECK(one["tables"] == json::array({"issues", "comments"}));
  CHECK(one["subscription_queries"] == json::array());
  CHECK(d.get("/api/stores/slow/events").first == 200);
}

TEST_CASE("with a token every route needs it", "[devtools]") {
  served d{multistore::devtools_options{.token = "s3cret"}};
  for (const char* path : {"/", "/metrics", "/api/stores", "/api/stores/x", "/nothing"}) {
    INFO(path);
    auto res = d.client.Get(path);
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK(json::parse(res->body)["error"] == "unauthorized");
    auto wrong = d.client.Get(path, {{"Authorization", "Bearer s3cre"}});
    CHECK(wrong->status == 401);
    auto basic = d.client.Get(path, {{"Authorization", "Basic s3cret"}});
    CHECK(basic->status == 401);
  }
  CHECK(d.get("/api/stores", {{"Authorization", "Bearer s3cret"}}).first == 200);
  auto page = d.client.Get("/?token=s3cret");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(d.client.Get("/?token=wrong")->status == 401);
}

TEST_CASE("the page is one self-contained document", "[devtools]") {
  served d;
  auto res = d.client.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
  CHECK(res->body.find("<table") != std::string::npos);
  CHECK(res->body.find("api/stores") != std::string::npos);
  for (const char* external : {"http://", "https://", "<link", "src=", "@import"}) {
    INFO(external);
    CHECK(res->body.find(external) == std::string::npos);
  }
}

TEST_CASE("metrics are valid exposition text and move as the registry works", "[devtools]") {
  served d;
  auto scrape = [&] {
    auto res = d.client.Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
    return prometheus_text::parse(res->body);
  };
  auto before = scrape();
  CHECK(before.value("multistore_commits_total") == 0);
  {
    auto h = d.registry.use(issue("m-1"));
    h.commit(issue_created{"1", "x"});
    h.commit(comment_added{"1", "a"}, comment_added{"1", "b"});
    auto after = scrape();
    CHECK(after.value("multistore_commits_total") == 2);
    CHECK(after.value("multistore_events_committed_total") == 3);
    CHECK(after.value("multistore_commit_latency_seconds_count") == 2);
    CHECK(after.value("multistore_loads_total") == 1);
    CHECK(after.value("multistore_stores", {{"phase", "active"}}) == 1);
    CHECK(after.value("multistore_acquire_latency_seconds_count") == 1);
    CHECK(after.value("multistore_open_file_descriptors") > 0);
    CHECK(after.value("multistore_resident_memory_bytes") > 0);
    auto again = d.registry.use(issue("m-1"));  // cached
    CHECK(scrape().value("multistore_acquire_latency_seconds_count") == 2);
  }
  CHECK(scrape().value("multistore_stores", {{"phase", "inactive"}}) == 1);
  d.registry.clear().get();
  auto cleared = scrape();
  CHECK(cleared.value("multistore_disposals_total") == 1);
  CHECK(cleared.value("multistore_stores", {{"phase", "inactive"}}) == 0);
  CHECK_NOTHROW(prometheus_text::parse(d.registry.metrics()));
}
