// The issue tracker example's routes over real HTTP (cpp-httplib's client,
// 127.0.0.1, a port the OS picks), on file stores in a fresh directory:
// every route and status, bad input, tokens, paging, live streams, restarts.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "multistore/devtools.hpp"
#include "multistore/multistore.hpp"
#include "schemas.hpp"
#include "service.hpp"
#include "system_fixture.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// A registry, the service on it, and a server on a free loopback port.
struct running {
  system_fixture s;
  multistore::store_registry registry{s.sys};
  std::unique_ptr<issue_tracker::service> service;
  httplib::Server server;
  std::thread thread;
  std::optional<httplib::Client> client;
  int port_ = 0;

  /// On multistore stores under `data`, or with `baseline` on the in-memory baseline.
  explicit running(const std::filesystem::path& data, issue_tracker::token_map tokens = {},
                   bool baseline = false) {
    multistore::register_schema<issue_tracker::workspace_schema>();
    multistore::register_schema<issue_tracker::issue_schema>();
    issue_tracker::service_options o{.data = data, .tokens = std::move(tokens), .live_heartbeat = 100ms};
    service = baseline ? std::make_unique<issue_tracker::service>(o)
                       : std::make_unique<issue_tracker::service>(registry, o);
    service->mount(server);
    port_ = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread = std::thread{[this] { server.listen_after_bind(); }};
    while (!server.is_running())
      std::this_thread::sleep_for(1ms);
    client.emplace("127.0.0.1", port_);
    client->set_read_timeout(20s);
  }

  ~running() {
    service->stop();
    server.stop();
    thread.join();
    registry.clear().get();
  }

  int port() const { return port_; }

  /// One request: its status and its body parsed as JSON (every answer here is JSON).
  std::pair<int, json> call(const std::string& method, const std::string& path,
                            const std::string& body = "", const httplib::Headers& headers = {}) {
    httplib::Result res = method == "GET"     ? client->Get(path, headers)
                          : method == "PUT"   ? client->Put(path, headers, body, "application/json")
                          : method == "POST"  ? client->Post(path, headers, body, "application/json")
                          : method == "PATCH" ? client->Patch(path, headers, body, "application/json")
                                              : client->Delete(path, headers);
    REQUIRE(res);
    INFO(method << " " << path << " -> " << res->status << " " << res->body);
    auto parsed = json::parse(res->body, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    if (res->status >= 400) {
      CHECK(parsed["error"].is_string());
      CHECK(parsed["message"].is_string());
    }
    return {res->status, parsed};
  }
};

/// Waits up to 10 s for `done`.
template <class Pred>
bool eventually(Pred done) {
  for (int i = 0; i < 1000 && !done(); ++i)
    std::this_thread::sleep_for(10ms);
  return done();
}

}  // namespace

TEST_CASE("workspaces, issues, comments and paging answer as documented", "[http]") {
  const bool baseline = GENERATE(false, true);  // the in-memory baseline answers alike
  INFO("baseline: " << baseline);
  temp_dir dir;
  running r{dir.path(), {}, baseline};
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})") == std::pair{201, json::parse(R"({"id":"acme","name":"Acme"})")});
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme Inc"})").first == 200);
  for (int i = 1; i <= 5; ++i) {
    auto [status, issue] = r.call("POST", "/v1/workspaces/acme/issues",
                                  json{{"title", "issue " + std::to_string(i)}}.dump());
    CHECK(status == 201);
    CHECK(issue["id"] == i);
    CHECK(issue["status"] == "todo");
  }
  auto [s1, page] = r.call("GET", "/v1/workspaces/acme/issues?offset=1&limit=2");
  CHECK(s1 == 200);
  CHECK(page["total"] == 5);
  REQUIRE(page["issues"].size() == 2);
  CHECK(page["issues"][0] == json::parse(R"({"id":2,"title":"issue 2","status":"todo"})"));
  CHECK(r.call("GET", "/v1/workspaces/acme/issues?limit=5000").second["limit"] == 1000);

  CHECK(r.call("PATCH", "/v1/workspaces/acme/issues/2", R"({"status":"doing"})").second["status"]
        == "doing");
  CHECK(r.call("POST", "/v1/workspaces/acme/issues/2/comments", R"({"text":"on it"})").first == 201);
  auto [s2, issue] = r.call("GET", "/v1/workspaces/acme/issues/2");
  CHECK(s2 == 200);
  CHECK(issue["title"] == "issue 2");
  CHECK(issue["status"] == "doing");
  REQUIRE(issue["comments"].size() == 1);
  CHECK(issue["comments"][0]["text"] == "on it");
  CHECK(r.call("GET", "/v1/workspaces/acme/issues?limit=2&offset=1").second["issues"][0]["status"]
        == "doing");  // the list's copy follows

  auto [s3, health] = r.call("GET", "/healthz");
  CHECK(s3 == 200);
  CHECK(health["status"] == "ok");
  auto metrics = r.client->Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find(baseline ? "issue_tracker_baseline_writes_total" : "multistore_commits_total")
        != std::string::npos);
  // Every request gave its stores back.
  CHECK(eventually([&] { return r.registry.stats().leases == 0; }));
}

TEST_CASE("bad input gets its status and writes nothing", "[http]") {
  const bool baseline = GENERATE(false, true);
  INFO("baseline: " << baseline);
  temp_dir dir;
  running r{dir.path(), {}, baseline};
  REQUIRE(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 201);
  REQUIRE(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":"first"})").first == 201);
  const auto head = [&] { return r.call("GET", "/v1/workspaces/acme/issues/1").second; };
  const auto before = head();

  CHECK(r.call("POST", "/v1/workspaces/acme/issues", "{not json").first == 400);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues", "[1,2]").first == 422);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues", R"({"titel":"x"})").first == 422);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":7})").first == 422);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":""})").first == 422);
  CHECK(r.call("PATCH", "/v1/workspaces/acme/issues/1", R"({"status":"closed"})").first == 422);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues/1/comments",
               json{{"text", std::string(70 * 1024, 'x')}}.dump())
            .first
        == 413);
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":null})").first == 422);

  for (const char* bad : {"/v1/workspaces/Acme/issues", "/v1/workspaces/a%20b/issues",
                          "/v1/workspaces/-x/issues", "/v1/workspaces/..%2Fetc/issues"}) {
    INFO(bad);
    CHECK(r.call("GET", bad).first == 400);
  }
  CHECK(r.call("GET", "/v1/workspaces/" + std::string(41, 'a') + "/issues").first == 400);
  for (const char* bad : {"0", "01", "x", "-1", "1234567890"}) {
    INFO(bad);
    CHECK(r.call("GET", std::string{"/v1/workspaces/acme/issues/"} + bad).first == 400);
  }
  CHECK(r.call("GET", "/v1/workspaces/acme/issues/9").first == 404);
  CHECK(r.call("PATCH", "/v1/workspaces/acme/issues/9", R"({"status":"done"})").first == 404);
  CHECK(r.call("POST", "/v1/workspaces/acme/issues/9/comments", R"({"text":"x"})").first == 404);
  CHECK(r.call("GET", "/v1/workspaces/nobody/issues").first == 404);
  CHECK(r.call("POST", "/v1/workspaces/nobody/issues", R"({"title":"x"})").first == 404);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "workspace-nobody.sqlite"));  // nothing made
  CHECK(r.registry.inspect("workspace-nobody").loads == 0);

  CHECK(r.call("GET", "/v2/anything").first == 404);
  auto [s405, e405] = r.call("DELETE", "/v1/workspaces/acme");
  CHECK(s405 == 405);
  CHECK(e405["error"] == "method_not_allowed");
  CHECK(r.call("GET", "/v1/workspaces/acme/issues/1/comments").first == 405);
  CHECK(r.call("POST", "/v1/workspaces/acme").first == 405);

  CHECK(head() == before);  // nothing written
  CHECK(r.call("GET", "/v1/workspaces/acme/issues").second["total"] == 1);
}

TEST_CASE("a token opens its own workspace only", "[http]") {
  temp_dir dir;
  running r{dir.path(), {{"acme", "acme-token-0123456789"}, {"globex", "globex-token-0123456789"}}};
  const httplib::Headers acme{{"Authorization", "Bearer acme-token-0123456789"}};
  const httplib::Headers globex{{"Authorization", "Bearer globex-token-0123456789"}};
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 401);
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})", {{"Authorization", "Bearer acme-token-012345678"}}).first == 401);
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})", {{"Authorization", "Basic acme-token-0123456789"}}).first == 401);
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})", globex).first == 403);
  CHECK(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})", acme).first == 201);
  CHECK(r.call("GET", "/v1/workspaces/acme/issues", "", globex).first == 403);
  CHECK(r.call("GET", "/v1/workspaces/acme/issues", "", acme).first == 200);
  CHECK(r.call("GET", "/v1/workspaces/initech/issues", "", acme).first == 403);
  CHECK(r.call("GET", "/healthz").first == 200);  // open: a load balancer asks it

  std::ofstream{dir.path() / "tokens"} << "# workspace token\nacme acme-token-0123456789\n\nglobex short\n";
  auto bad = issue_tracker::read_tokens(dir.path() / "tokens");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("tokens:4:") != std::string::npos);
  std::ofstream{dir.path() / "tokens2"} << "acme acme-token-0123456789 extra\n";
  CHECK(issue_tracker::read_tokens(dir.path() / "tokens2").error().find(":1:") != std::string::npos);
  std::ofstream{dir.path() / "tokens3"} << "a acme-token-0123456789\nb b-token-0123456789abc # b\n";
  auto good = issue_tracker::read_tokens(dir.path() / "tokens3");
  REQUIRE(good);
  CHECK(good->size() == 2);
  CHECK(good->at("b") == "b-token-0123456789abc");
  CHECK_FALSE(issue_tracker::read_tokens(dir.path() / "missing"));
}

TEST_CASE("a live stream sends the issue at once and after each change and gives its lease back when the client goes away",
          "[http]") {
  temp_dir dir;
  running r{dir.path()};
  REQUIRE(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 201);
  REQUIRE(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":"live one"})").first == 201);

  std::mutex mtx;
  std::condition_variable grew;
  std::string received;
  bool leave = false;
  std::thread listener{[&] {
    httplib::Client c{"127.0.0.1", r.port()};
    c.set_read_timeout(20s);
    c.Get("/v1/workspaces/acme/issues/1/live", [&](const char* data, std::size_t n) {
      std::lock_guard guard{mtx};
      received.append(data, n);
      grew.notify_all();
      return !leave;  // false: the client hangs up
    });
  }};
  auto wait_for = [&](const std::string& text) {
    std::unique_lock lock{mtx};
    return grew.wait_for(lock, 10s, [&] { return received.find(text) != std::string::npos; });
  };
  CHECK(wait_for(R"("status":"todo")"));
  CHECK(wait_for("event: issue\ndata: "));
  CHECK(r.registry.inspect("ws-acme-issue-1").observers == 1);  // the stream's lease
  REQUIRE(r.call("PATCH", "/v1/workspaces/acme/issues/1", R"({"status":"done"})").first == 200);
  CHECK(wait_for(R"("status":"done")"));
  REQUIRE(r.call("POST", "/v1/workspaces/acme/issues/1/comments", R"({"text":"shipped"})").first == 201);
  CHECK(wait_for("shipped"));
  CHECK(wait_for(": still here"));  // the heartbeat while nothing changes
  {
    std::lock_guard guard{mtx};
    leave = true;
  }
  listener.join();
  // The server notices at its next heartbeat and releases the lease.
  CHECK(eventually([&] { return r.registry.inspect("ws-acme-issue-1").observers == 0; }));
  CHECK(r.registry.stats().leases == 0);
}

TEST_CASE("stop() ends the open live streams and refuses new ones", "[http]") {
  temp_dir dir;
  running r{dir.path()};
  REQUIRE(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 201);
  REQUIRE(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":"x"})").first == 201);
  std::atomic<bool> ended{false};
  std::thread listener{[&] {
    httplib::Client c{"127.0.0.1", r.port()};
    c.set_read_timeout(20s);
    c.Get("/v1/workspaces/acme/issues/1/live", [&](const char*, std::size_t) { return true; });
    ended = true;
  }};
  CHECK(eventually([&] { return r.registry.inspect("ws-acme-issue-1").observers == 1; }));
  r.service->stop();
  listener.join();
  CHECK(ended);
  CHECK(eventually([&] { return r.registry.stats().leases == 0; }));
  CHECK(r.call("GET", "/v1/workspaces/acme/issues/1/live").first == 503);
  CHECK(r.call("GET", "/healthz").first == 503);
}

TEST_CASE("a server restarted on the same data keeps every acknowledged write", "[http]") {
  temp_dir dir;
  {
    running r{dir.path()};
    REQUIRE(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 201);
    for (int i = 0; i < 3; ++i)
      REQUIRE(r.call("POST", "/v1/workspaces/acme/issues", R"({"title":"kept"})").first == 201);
    REQUIRE(r.call("PATCH", "/v1/workspaces/acme/issues/3", R"({"status":"done"})").first == 200);
    REQUIRE(r.call("POST", "/v1/workspaces/acme/issues/3/comments", R"({"text":"c"})").first == 201);
  }
  running again{dir.path()};
  auto [status, list] = again.call("GET", "/v1/workspaces/acme/issues");
  CHECK(status == 200);
  CHECK(list["total"] == 3);
  auto issue = again.call("GET", "/v1/workspaces/acme/issues/3").second;
  CHECK(issue["status"] == "done");
  CHECK(issue["comments"].size() == 1);
  CHECK(again.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 200);  // exists
  CHECK(again.call("POST", "/v1/workspaces/acme/issues", R"({"title":"next"})").second["id"] == 4);
}

TEST_CASE("the devtools page and its API are relayed under /devtools/", "[http]") {
  temp_dir dir;
  running r{dir.path()};
  multistore::devtools_server tools{r.registry};
  issue_tracker::mount_devtools(r.server, tools.port());
  REQUIRE(r.call("PUT", "/v1/workspaces/acme", R"({"name":"Acme"})").first == 201);
  auto page = r.client->Get("/devtools/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type").starts_with("text/html"));
  CHECK(page->body.find("fetch(") != std::string::npos);
  auto [status, stores] = r.call("GET", "/devtools/api/stores");
  CHECK(status == 200);
  REQUIRE(stores["stores"].size() == 1);
  CHECK(stores["stores"][0]["id"] == "workspace-acme");
  CHECK(r.call("GET", "/devtools/api/stores/workspace-acme/events?limit=1").second["events"].size() == 1);
  CHECK(r.call("GET", "/devtools/api/stores/nothing-here").first == 404);
  auto moved = r.client->Get("/devtools");
  REQUIRE(moved);
  CHECK(moved->status == 302);
  CHECK(moved->get_header_value("Location") == "/devtools/");
}
