// Store I/O off the scheduler, on CAF's real scheduler and a real I/O pool:
// the pool itself, one store's order, a slow store that delays only itself,
// commits grouped while a transaction is in flight, and overload through
// blocking handles. Tolerant of a loaded 2-core machine: waits are bounded
// generously, and no figure of speed is asserted.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "detail/io_executor.hpp"
#include "multistore/multistore.hpp"
#include "schemas.hpp"
#include "system_fixture.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_options;
using test_schemas::issue_created;
using test_schemas::issue_schema;

namespace {

/// Waits until `done()` holds, for at most `limit`.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// -- a schema whose materializer watches how it is called ------------------------------

struct noted {
  static constexpr std::string_view name = "noted";
  int n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(noted, n)

/// What the watched materializer saw: whether two calls ever overlapped, and
/// a gate that holds the call for n == gate_n until it is opened.
struct watch {
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::atomic<int> gate_n{-1};
  std::atomic<bool> at_gate{false};
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;

  void enter(int n) {
    if (inside.fetch_add(1) != 0)
      overlapped = true;
    if (n == gate_n) {
      at_gate = true;
      std::unique_lock lock{mtx};
      cv.wait(lock, [&] { return open; });
    }
    inside.fetch_sub(1);
  }
  void release_gate() {
    {
      std::lock_guard guard{mtx};
      open = true;
    }
    cv.notify_all();
  }
};

watch& the_watch() {
  static watch w;
  return w;
}

struct watched_schema {
  static constexpr std::string_view name = "watched";
  using events = multistore::event_list<noted>;
  static void define(multistore::schema_builder& b) {
    b.table("notes", "CREATE TABLE notes (n INTEGER NOT NULL)");
    b.materialize<noted>([](const noted& e, multistore::sql_writer& w) {
      the_watch().enter(e.n);
      w.exec("INSERT INTO notes (n) VALUES (?)", e.n);
    });
  }
};

}  // namespace

TEST_CASE("the I/O pool runs every job, first in first out per thread", "[io][pool]") {
  std::mutex mtx;
  std::vector<int> order;
  {
    auto pool = multistore::detail::make_io_pool(1);
    for (int i = 0; i < 100; ++i)
      pool->post([&, i] {
        std::lock_guard guard{mtx};
        order.push_back(i);
      });
  }  // the destructor lets the queued jobs run, then joins
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("the I/O pool runs jobs on several threads at once", "[io][pool]") {
  auto pool = multistore::detail::make_io_pool(3);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i)
    pool->post([&] {
      const int now = ++running;
      for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
      }
      // Each job waits for the others to start: this ends only if the three
      // run at the same time.
      eventually([&] { return most.load() == 3; }, 10s);
      --running;
      ++done;
    });
  REQUIRE(eventually([&] { return done.load() == 3; }));
  CHECK(most == 3);
}

TEST_CASE("an I/O pool destroyed from its own job does not join itself", "[io][pool]") {
  auto pool = multistore::detail::make_io_pool(2);
  std::atomic<bool> ran{false};
  auto* raw = pool.get();
  // The job holds the last reference: the pool is destroyed on its own thread.
  raw->post([p = std::move(pool), &ran]() mutable {
    ran = true;
    p.reset();
  });
  CHECK(eventually([&] { return ran.load(); }));
  std::this_thread::sleep_for(50ms);  // the detached thread ends by itself
}

TEST_CASE("the inline executor runs a job at once", "[io][pool]") {
  auto io = multistore::detail::make_inline_executor();
  int ran = 0;
  io->post([&] { ++ran; });
  CHECK(ran == 1);
  CHECK(multistore::detail::io_pool_size(3) == 3);
  CHECK(multistore::detail::io_pool_size(0) >= 2);
  CHECK(multistore::detail::io_pool_size(0) <= 16);
}

TEST_CASE("one store's operations never overlap and keep their order", "[io][order]") {
  temp_dir dir;
  system_fixture s;
  multistore::registry_options ro;
  ro.io_threads = 4;
  multistore::store_registry registry{s.sys, ro};
  store_options<watched_schema> opts{.store_id = "ordered",
                                     .storage = multistore::sqlite_adapter{dir.path()},
                                     .gc_time = 10s};
  the_watch().overlapped = false;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        auto h = registry.use(opts);
        std::uint64_t last = 0;
        for (int i = 0; i < 50; ++i) {
          auto seq = h.commit(noted{t * 1000 + i});
          if (seq <= last)
            ++failures;  // a thread's own commits get growing sequence numbers
          last = seq;
          // A query sent after a commit sees it.
          auto rows = h.query("SELECT count(*) AS c FROM notes WHERE n = ?", t * 1000 + i);
          if (rows[0]["c"] != 1)
            ++failures;
        }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(failures == 0);
  CHECK_FALSE(the_watch().overlapped);
  auto h = registry.use(opts);
  auto log = h.query("SELECT count(*) AS c, min(seq) AS lo, max(seq) AS hi FROM __events");
  CHECK(log[0]["c"] == 200);  // sequence numbers without gaps
  CHECK(log[0]["lo"] == 1);
  CHECK(log[0]["hi"] == 200);
}

TEST_CASE("while one store's boot blocks, other stores load, commit and answer", "[io][isolation]") {
  temp_dir dir;
  system_fixture s;
  multistore::registry_options ro;
  ro.io_threads = 2;  // the slow boot holds one of them
  multistore::store_registry registry{s.sys, ro};
  std::atomic<bool> boot_started{false};
  std::atomic<bool> boot_done{false};
  auto slow = store_options<issue_schema>{.store_id = "slow",
                                          .storage = multistore::sqlite_adapter{dir.path()},
                                          .gc_time = 10s};
  slow.boot = [&](multistore::store<issue_schema>&) {
    boot_started = true;
    std::this_thread::sleep_for(2s);
    boot_done = true;
  };
  std::thread slow_user([&] { auto h = registry.use(slow); });
  REQUIRE(eventually([&] { return boot_started.load(); }));

  const auto t0 = std::chrono::steady_clock::now();
  auto cached = registry.use(store_options<issue_schema>{.store_id = "cached", .gc_time = 10s});
  for (int i = 0; i < 5; ++i) {
    auto h = registry.use(store_options<issue_schema>{
        .store_id = "other-" + std::to_string(i),
        .storage = multistore::sqlite_adapter{dir.path()},
        .gc_time = 10s});
    CHECK(h.commit(issue_created{"1", "while the boot sleeps"}) == 1);
  }
  for (int i = 0; i < 100; ++i)
    registry.use(store_options<issue_schema>{.store_id = "cached", .gc_time = 10s}).release();
  const auto took = std::chrono::steady_clock::now() - t0;
  // All of it happened while the boot slept (the bound is generous: a few
  // milliseconds of work, on a machine that may be loaded).
  CHECK_FALSE(boot_done.load());
  CHECK(took < 1500ms);
  slow_user.join();
  CHECK(boot_done.load());
}

TEST_CASE("commits that arrive while a transaction is in flight go as the next one",
          "[io][group]") {
  temp_dir dir;
  system_fixture s;
  multistore::store_registry registry{s.sys};
  store_options<watched_schema> opts{.store_id = "inflight",
                                     .storage = multistore::sqlite_adapter{dir.path()},
                                     .gc_time = 10s};
  auto& w = the_watch();
  w.gate_n = 0;
  w.at_gate = false;
  auto h = registry.use(opts);
  std::atomic<int> notifications{0};
  auto sub = h.subscribe("SELECT count(*) AS c FROM notes", [&](const nlohmann::json&) { ++notifications; });
  REQUIRE(eventually([&] { return notifications.load() == 1; }));

  std::atomic<std::uint64_t> first_seq{0};  // Catch's assertions stay on this thread
  std::thread first([&] { first_seq = h.commit(noted{0}); });
  REQUIRE(eventually([&] { return w.at_gate.load(); }));  // its transaction is in flight
  std::vector<std::thread> later;
  std::mutex seq_mtx;
  std::set<std::uint64_t> seqs;
  for (int i = 1; i <= 4; ++i)
    later.emplace_back([&, i] {
      auto seq = h.commit(noted{i});
      std::lock_guard guard{seq_mtx};
      seqs.insert(seq);
    });
  std::this_thread::sleep_for(300ms);  // the four reach the store and queue behind
  w.release_gate();
  first.join();
  for (auto& th : later)
    th.join();
  CHECK(first_seq == 1);
  CHECK(seqs == std::set<std::uint64_t>{2, 3, 4, 5});
  // The first transaction, then the four together: one notification each.
  REQUIRE(eventually([&] { return notifications.load() >= 3; }));
  std::this_thread::sleep_for(100ms);
  CHECK(notifications == 3);
  w.gate_n = -1;
}

TEST_CASE("a store refuses commits beyond max_pending_commits from blocking handles",
          "[io][overloaded]") {
  temp_dir dir;
  system_fixture s;
  multistore::registry_options ro;
  ro.max_pending_commits = 1;
  multistore::store_registry registry{s.sys, ro};
  store_options<issue_schema> opts{
      .store_id = "busy",
      .storage = multistore::sqlite_adapter{dir.path(), multistore::sync_level::full},
      .gc_time = 10s};
  auto holder = registry.use(opts);
  std::atomic<int> ok{0}, overloaded{0}, other{0}, unclear{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      auto h = registry.use(opts);
      for (int i = 0; i < 20; ++i) {
        try {
          h.commit(issue_created{std::to_string(t) + "-" + std::to_string(i), "x"});
          ++ok;
        } catch (const multistore::store_error& e) {
          if (e.code() == errc::overloaded) {
            ++overloaded;
            if (std::string{e.what()}.find("max_pending_commits 1") == std::string::npos)
              ++unclear;  // the message names the limit
          } else {
            ++other;
          }
        }
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(other == 0);
  CHECK(unclear == 0);
  CHECK(ok + overloaded == 160);
  CHECK(overloaded > 0);  // eight writers and room for one: some were turned away
  // Nothing of a refused commit was written, and the store keeps serving.
  auto rows = holder.query("SELECT count(*) AS c FROM issues");
  CHECK(rows[0]["c"] == ok.load());
  CHECK(holder.commit(issue_created{"after", "x"}) == static_cast<std::uint64_t>(ok.load()) + 1);
}
