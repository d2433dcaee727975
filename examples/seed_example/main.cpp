// The seed's "complete usage example", in C++: a workspace-root store that
// lives forever, issue stores that come and go, preloading on hover, and the
// store lifecycle as a simulated user navigates.
//
// Time is scaled (--scale, default 0.01) so that "20 s" of gc_time lasts
// 200 ms and the whole tour takes about two seconds.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <multistore/multistore.hpp>

using namespace std::chrono_literals;

// -- the workspace store: one per app, never disposed ------------------------

struct workspace_created {
  static constexpr std::string_view name = "workspace_created";
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(workspace_created, title)

struct issue_listed {
  static constexpr std::string_view name = "issue_listed";
  std::string issue_id;
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_listed, issue_id, title)

struct workspace_schema {
  static constexpr std::string_view name = "workspace";
  using events = multistore::event_list<workspace_created, issue_listed>;
  static void define(multistore::schema_builder& b) {
    b.table("workspace", "CREATE TABLE workspace (title TEXT NOT NULL)");
    b.table("issue_index", "CREATE TABLE issue_index (issue_id TEXT PRIMARY KEY, title TEXT)");
    b.materialize<workspace_created>([](const workspace_created& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO workspace (title) VALUES (?)", e.title);
    });
    b.materialize<issue_listed>([](const issue_listed& e, multistore::sql_writer& w) {
      w.exec("INSERT OR REPLACE INTO issue_index (issue_id, title) VALUES (?, ?)", e.issue_id,
             e.title);
    });
  }
};

// -- an issue store: one per issue, loaded on demand -------------------------

struct issue_created {
  static constexpr std::string_view name = "issue_created";
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_created, title)

struct issue_toggled {
  static constexpr std::string_view name = "issue_toggled";
  bool done = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_toggled, done)

struct issue_schema {
  static constexpr std::string_view name = "issue";
  using events = multistore::event_list<issue_created, issue_toggled>;
  static void define(multistore::schema_builder& b) {
    b.table("issue", "CREATE TABLE issue (title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)");
    b.materialize<issue_created>([](const issue_created& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO issue (title) VALUES (?)", e.title);
    });
    b.materialize<issue_toggled>([](const issue_toggled& e, multistore::sql_writer& w) {
      w.exec("UPDATE issue SET done = ?", e.done);
    });
  }
};

namespace {

double scale = 0.01;
std::filesystem::path data_dir = "seed-data";

multistore::gc_duration scaled(std::chrono::milliseconds d) {
  return multistore::gc_duration{static_cast<std::int64_t>(static_cast<double>(d.count()) * scale)};
}

void pass(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(scaled(d));
}

multistore::store_options<workspace_schema> workspace_store_options() {
  return {.store_id = "workspace-root",
          .storage = multistore::sqlite_adapter{data_dir},
          .gc_time = multistore::gc_never,
          .boot = [](multistore::store<workspace_schema>& s) {
            if (s.query("SELECT count(*) AS n FROM workspace")[0]["n"] == 0)
              s.commit(workspace_created{"Acme"});
          }};
}

multistore::store_options<issue_schema> issue_store_options(const std::string& id) {
  return {.store_id = "issue-" + id,
          .storage = multistore::sqlite_adapter{data_dir},
          .gc_time = scaled(20s)};
}

void show(multistore::store_registry& registry, const std::string& id) {
  auto info = registry.inspect(id);
  std::printf("  %-16s %-9s observers=%zu loads=%llu", id.c_str(),
              std::string{multistore::to_string(info.state)}.c_str(), info.observers,
              static_cast<unsigned long long>(info.loads));
  if (info.gc_remaining)
    std::printf(" disposed in %lld ms", static_cast<long long>(info.gc_remaining->count()));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"multistore: the seed's complete usage example"};
  app.add_option("--scale", scale, "time scale (1 = real time)")->check(CLI::PositiveNumber);
  app.add_option("--data", data_dir, "directory for the SQLite files");
  CLI11_PARSE(app, argc, argv);

  caf::actor_system_config cfg;
  multistore::configure(cfg);
  caf::actor_system sys{cfg};
  // The example prints its own story; the library's log goes nowhere.
  auto quiet = std::make_shared<spdlog::logger>("multistore",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
  multistore::store_registry registry{
      sys, {.default_options = {.gc_time = scaled(60s)}}, quiet};

  std::printf("(time is scaled by %g: 20 s of gc_time lasts %lld ms; times shown are real)\n",
              scale, static_cast<long long>(scaled(20s).count()));
  std::printf("1. the app starts: workspace-root is loaded and booted once\n");
  auto workspace = registry.use(workspace_store_options());
  auto title = workspace.query("SELECT title FROM workspace")[0]["title"].get<std::string>();
  std::printf("  workspace title: %s\n", title.c_str());
  show(registry, "workspace-root");

  std::printf("2. the user hovers over issues 1 and 2: preload warms them\n");
  registry.preload(issue_store_options("1")).get();
  registry.preload(issue_store_options("2")).get();
  show(registry, "issue-1");
  show(registry, "issue-2");

  std::printf("3. the user opens issue 1, creates it and toggles it twice\n");
  {
    auto issue = registry.use(issue_store_options("1"));
    if (issue.query("SELECT count(*) AS n FROM issue")[0]["n"] == 0) {
      issue.commit(issue_created{"Crash on save"});
      workspace.commit(issue_listed{"issue-1", "Crash on save"});
    }
    issue.commit(issue_toggled{true});
    issue.commit(issue_toggled{false});
    auto row = issue.query("SELECT title, done FROM issue")[0];
    std::printf("  issue-1: %s (done=%d)\n", row["title"].get<std::string>().c_str(),
                row["done"].get<int>());
    show(registry, "issue-1");
  }
  std::printf("4. the user navigates away: issue-1 waits out its gc_time (20 s)\n");
  show(registry, "issue-1");
  pass(21s);
  show(registry, "issue-1");

  std::printf("5. two views hold issue-2 with gc 20 s and 60 s: the longest wins\n");
  {
    auto list_view = registry.use(issue_store_options("2"));
    auto pinned = issue_store_options("2");
    pinned.gc_time = scaled(60s);
    auto sidebar = registry.use(pinned);
    show(registry, "issue-2");
  }
  pass(21s);
  std::printf("  after 21 s:\n");
  show(registry, "issue-2");
  pass(40s);
  std::printf("  after 61 s:\n");
  show(registry, "issue-2");

  std::printf("6. workspace-root (gc_never) is still there; clear() closes everything\n");
  workspace.release();
  show(registry, "workspace-root");
  registry.clear().get();
  show(registry, "workspace-root");
  auto stats = registry.stats();
  std::printf("done: %llu loads, %llu disposals\n", static_cast<unsigned long long>(stats.loads),
              static_cast<unsigned long long>(stats.disposals));
  return 0;
}
