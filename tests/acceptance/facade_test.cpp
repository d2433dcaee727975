// The blocking facade on CAF's real scheduler with real SQLite files. Few, and
// tolerant of a loaded machine: no timing assertions except generous bounds.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "multistore/multistore.hpp"
#include "schemas.hpp"
#include "system_fixture.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_options;
using multistore::store_state;
using test_schemas::issue_created;
using test_schemas::issue_schema;

namespace {

store_options<issue_schema> file_issue(const temp_dir& dir, std::string id) {
  return {.store_id = std::move(id),
          .storage = multistore::sqlite_adapter{dir.path()},
          .gc_time = 50ms};
}

}  // namespace

TEST_CASE("threads share one store through the blocking facade", "[facade][real]") {
  temp_dir dir;
  system_fixture s;
  multistore::store_registry registry{s.sys};
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < 25; ++i) {
          auto h = registry.use(file_issue(dir, "shared"));
          h.commit(issue_created{std::to_string(t) + "-" + std::to_string(i), "x"});
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(errors == 0);
  auto h = registry.use(file_issue(dir, "shared"));
  CHECK(h.query("SELECT count(*) AS n FROM issues")[0]["n"] == 100);
}

TEST_CASE("the registry destructor closes stores and nothing committed is lost",
          "[facade][real]") {
  temp_dir dir;
  {
    system_fixture s;
    multistore::store_registry registry{s.sys};
    auto h = registry.use(file_issue(dir, "durable"));
    for (int i = 0; i < 10; ++i)
      h.commit(issue_created{std::to_string(i), "kept"});
  }
  system_fixture s;
  multistore::store_registry registry{s.sys};
  auto h = registry.use(file_issue(dir, "durable"));
  CHECK(h.query("SELECT count(*) AS n FROM issues")[0]["n"] == 10);
}

TEST_CASE("a second registry on the same files is refused while the first holds them",
          "[facade][real]") {
  temp_dir dir;
  system_fixture s;
  multistore::store_registry first{s.sys};
  multistore::store_registry second{s.sys};
  auto h = first.use(file_issue(dir, "locked"));
  try {
    second.use(file_issue(dir, "locked"));
    FAIL("the second registry got the store");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::load_failed);
    CHECK_THAT(e.what(), Catch::Contains("in use"));
  }
  h.release();
  first.clear().get();
  auto again = second.use(file_issue(dir, "locked"));
  CHECK(again.store_id() == "locked");
}

TEST_CASE("preload and clear resolve their futures", "[facade][real]") {
  temp_dir dir;
  system_fixture s;
  multistore::store_registry registry{s.sys};
  registry.preload(file_issue(dir, "warm")).get();
  CHECK(registry.inspect("warm").state == store_state::inactive);
  // A failing load is swallowed by preload.
  registry.preload(store_options<issue_schema>{.store_id = "bad/id"}).get();
  registry.clear().get();
  CHECK(registry.inspect("warm").state == store_state::disposed);
  CHECK(&multistore::use_store_registry(s.sys) == &registry);
}

TEST_CASE("an unobserved store is disposed after gc_time on the real clock", "[facade][real]") {
  temp_dir dir;
  system_fixture s;
  multistore::store_registry registry{s.sys};
  registry.use(file_issue(dir, "short")).release();
  CHECK(registry.inspect("short").state == store_state::inactive);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (registry.inspect("short").state != store_state::disposed
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CHECK(registry.inspect("short").state == store_state::disposed);
}

TEST_CASE("an aborted wait fails with cancelled", "[facade][real]") {
  system_fixture s;
  multistore::store_registry registry{s.sys};
  multistore::abort_source cancel;
  cancel.abort();
  auto opts = store_options<issue_schema>{.store_id = "never", .signal = cancel.signal()};
  try {
    registry.use(opts);
    FAIL("use returned");
  } catch (const multistore::store_error& e) {
    CHECK(e.code() == errc::cancelled);
  }
}

TEST_CASE("a slow load does not hold up other stores", "[facade][real]") {
  system_fixture s;
  multistore::store_registry registry{s.sys};
  auto fast = registry.use(store_options<issue_schema>{.store_id = "fast"});
  std::atomic<bool> boot_started{false}, boot_done{false};
  std::thread slow{[&] {
    registry.use(store_options<issue_schema>{.store_id = "slow",
                                             .boot = [&](multistore::store<issue_schema>&) {
                                               boot_started = true;
                                               std::this_thread::sleep_for(1500ms);
                                               boot_done = true;
                                             }});
  }};
  while (!boot_started)
    std::this_thread::sleep_for(1ms);
  // While "slow" boots, the registry keeps serving: a cached acquire, a new
  // load and a commit all finish before the boot does.
  auto again = registry.use(store_options<issue_schema>{.store_id = "fast"});
  auto other = registry.use(store_options<issue_schema>{.store_id = "other"});
  other.commit(issue_created{"1", "while another store boots"});
  CHECK(registry.inspect("slow").state == store_state::loading);
  CHECK_FALSE(boot_done);
  slow.join();
  CHECK(registry.inspect("slow").state == store_state::inactive);
}

namespace {

/// Captures what this process writes to file descriptor `fd` while alive.
class captured_fd {
 public:
  explicit captured_fd(int fd) : fd_(fd), saved_(::dup(fd)) {
    std::fflush(nullptr);
    file_ = std::tmpfile();
    ::dup2(::fileno(file_), fd_);
  }
  ~captured_fd() { restore(); }

  /// Stops capturing and returns what was written.
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    for (int c; (c = std::fgetc(file_)) != EOF;)
      out += static_cast<char>(c);
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0)
      return;
    std::fflush(nullptr);
    std::cerr.flush();
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }

  int fd_;
  int saved_;
  std::FILE* file_;
};

}  // namespace

TEST_CASE("the library writes nothing to stdout and warns on stderr by default",
          "[facade][real][logging]") {
  temp_dir dir;
  std::string out, err;
  {
    captured_fd stdout_capture{STDOUT_FILENO};
    captured_fd stderr_capture{STDERR_FILENO};
    {
      system_fixture s;
      multistore::store_registry registry{s.sys};  // no logger: the library's default
      {
        auto h = registry.use(file_issue(dir, "logged"));
        h.commit(issue_created{"1", "one"});
      }
      registry.clear().get();
      // A load that fails is a warning.
      auto bad = file_issue(dir, "boot-throws");
      bad.boot = [](multistore::store<issue_schema>&) { throw std::runtime_error("boom"); };
      CHECK_THROWS_AS(registry.use(bad), multistore::store_error);
    }
    out = stdout_capture.text();
    err = stderr_capture.text();
  }
  CHECK(out.empty());
  CHECK_THAT(err, Catch::Contains("store boot-throws failed to load"));
  CHECK_THAT(err, !Catch::Contains("store logged loaded"));  // info is below the default level
}
