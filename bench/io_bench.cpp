// Store I/O benchmarks: what moving the stores' SQLite work onto the registry's
// I/O threads buys, each against a baseline measured in the same run.
//   isolation  cached use()+release while other stores fsync and new file
//              stores are created, against the same loop while raw SQLite does
//              the same disk work on plain threads;
//   group      single-event commits from 8 actors to one fsyncing store (the
//              store groups what queues up), against 1 actor;
//   flood      200 000 commits sent to one store without waiting: every one
//              answered (written or errc::overloaded), RSS bounded.
// Prints, for each measure, multistore's figure, the baseline, the ratio, the
// bar and PASS/FAIL; --json FILE writes the same as JSON, --only NAME runs one
// measure. Never a unit test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <malloc.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <multistore/actor_api.hpp>
#include <multistore/multistore.hpp>

#include "ratio_table.hpp"

using namespace std::chrono_literals;
using namespace ratio_table;

namespace {

using options_t = multistore::store_options<notes_schema>;
using store_t = multistore::acquired_store<notes_schema>;

/// A file store in `dir` that fsyncs every transaction.
options_t file_notes(std::string id, const std::filesystem::path& dir,
                     multistore::gc_duration gc = std::chrono::milliseconds{0}) {
  return {.store_id = std::move(id),
          .storage = multistore::sqlite_adapter{dir, multistore::sync_level::full},
          .gc_time = gc};
}

double seconds_since(bench_clock::time_point t0) {
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "io_bench: %s\n", what.c_str());
  std::exit(2);
}

/// A scratch directory under /tmp named after the process, removed by the
/// destructor.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& what)
      : path{std::filesystem::temp_directory_path()
             / ("multistore-io-bench-" + what + "-" + std::to_string(::getpid()))} {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// -- isolation: a cached round trip while the disk is busy -------------------------------

/// Raw SQLite, checked: any failure ends the bench.
void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string what = std::string{sql} + ": " + (err ? err : "?");
    sqlite3_free(err);
    die(what);
  }
}

sqlite3* open_wal_full(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr)
      != SQLITE_OK)
    die("open " + file.string() + ": " + sqlite3_errmsg(db));
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=FULL");
  exec(db, "CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL)");
  return db;
}

/// The disk work running behind one phase: `start` launches its threads;
/// each signals `ready` once set up, counts every finished operation (a
/// commit, or a database created) in `ops` and returns once `stop` is set.
struct background {
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<std::uint64_t> ops{0};
  std::vector<std::thread> threads;

  /// Runs `f` on a new thread; a throw (a failed commit or load) ends the bench.
  template <class F>
  void start(F f) {
    threads.emplace_back([f = std::move(f)] {
      try {
        f();
      } catch (const std::exception& e) {
        die(std::string{"disk work: "} + e.what());
      }
    });
  }
  void wait_ready() const {
    while (ready.load() < static_cast<int>(threads.size()))
      std::this_thread::sleep_for(1ms);
  }
  void join() {
    stop = true;
    for (auto& t : threads)
      t.join();
  }
};

constexpr int writer_threads = 4;
constexpr int creator_threads = 2;

/// Phase 1's disk work through multistore: 4 threads commit 1-event batches
/// to their own fsyncing file store through blocking handles, 2 threads load
/// new file stores (a new id, so a new WAL database), commit once and release
/// (gc_time 0: each is closed at once).
void multistore_disk_work(background& bg, multistore::store_registry& registry,
                          const std::filesystem::path& dir, int round) {
  for (int t = 0; t < writer_threads; ++t)
    bg.start([&bg, &registry, dir, round, t] {
      auto h = registry.use(
          file_notes("writer-" + std::to_string(round) + "-" + std::to_string(t), dir));
      ++bg.ready;
      while (!bg.stop.load()) {
        h.commit(note_added{"a note"});
        ++bg.ops;
      }
    });
  for (int t = 0; t < creator_threads; ++t)
    bg.start([&bg, &registry, dir, round, t] {
      ++bg.ready;
      for (std::uint64_t i = 0; !bg.stop.load(); ++i) {
        auto h = registry.use(file_notes(
            "new-" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i),
            dir));
        h.commit(note_added{"a note"});
        h.release();
        ++bg.ops;
      }
    });
}

/// Phase 2's disk work, raw SQLite on plain threads: 4 threads insert one row
/// per transaction into their own WAL database at synchronous=FULL, 2 threads
/// create new database files (open, WAL, FULL, a table, one row, close).
void raw_disk_work(background& bg, const std::filesystem::path& dir, int round) {
  for (int t = 0; t < writer_threads; ++t)
    bg.start([&bg, dir, round, t] {
      auto db = open_wal_full(dir / ("raw-writer-" + std::to_string(round) + "-"
                                     + std::to_string(t) + ".sqlite"));
      sqlite3_stmt* insert = nullptr;
      if (sqlite3_prepare_v2(db, "INSERT INTO notes (text) VALUES ('a note')", -1, &insert,
                             nullptr)
          != SQLITE_OK)
        die(sqlite3_errmsg(db));
      ++bg.ready;
      while (!bg.stop.load()) {
        if (sqlite3_step(insert) != SQLITE_DONE)  // autocommit: one transaction
          die(sqlite3_errmsg(db));
        sqlite3_reset(insert);
        ++bg.ops;
      }
      sqlite3_finalize(insert);
      sqlite3_close(db);
    });
  for (int t = 0; t < creator_threads; ++t)
    bg.start([&bg, dir, round, t] {
      ++bg.ready;
      for (std::uint64_t i = 0; !bg.stop.load(); ++i) {
        auto db = open_wal_full(dir / ("raw-new-" + std::to_string(round) + "-"
                                       + std::to_string(t) + "-" + std::to_string(i) + ".sqlite"));
        exec(db, "INSERT INTO notes (text) VALUES ('a note')");
        sqlite3_close(db);
        ++bg.ops;
      }
    });
}

struct phase_result {
  std::vector<double> latency_us;  ///< one per cached round trip, sorted
  double disk_ops_per_s = 0;
  double quantile(double q) const {
    return latency_us[static_cast<std::size_t>(static_cast<double>(latency_us.size() - 1) * q)];
  }
};

constexpr auto phase_time = 3s;

/// Cached use()+release round trips on `opts` (held loaded by the caller) for
/// `phase_time` from this thread, while `bg` does its disk work.
phase_result cached_round_trips(multistore::store_registry& registry, const options_t& opts,
                                background& bg) {
  bg.wait_ready();
  phase_result out;
  out.latency_us.reserve(1 << 20);
  auto ops0 = bg.ops.load();
  auto t0 = bench_clock::now();
  auto end = t0 + phase_time;
  for (auto now = t0; now < end;) {
    registry.use(opts).release();
    auto after = bench_clock::now();
    out.latency_us.push_back(std::chrono::duration<double, std::micro>(after - now).count());
    now = after;
  }
  out.disk_ops_per_s = static_cast<double>(bg.ops.load() - ops0) / seconds_since(t0);
  bg.join();
  std::sort(out.latency_us.begin(), out.latency_us.end());
  return out;
}

void isolation(caf::actor_system& sys, const std::shared_ptr<spdlog::logger>& logger) {
  scratch_dir dir{"isolation"};
  multistore::store_registry registry{sys, {}, logger};
  auto opts = notes("iso-cached");
  auto holder = registry.use(opts);  // keeps the store loaded: every round trip is cached
  std::vector<double> p99, p99_raw, p50, p50_raw, trips, trips_raw, disk, disk_raw;
  std::vector<double> p99_ratio, trips_ratio;
  // Baseline first, then multistore, twice: a drift of the machine over the
  // run falls on both sides; the ratios are the median of the rounds' own.
  for (int round = 0; round < 2; ++round) {
    phase_result raw, ms;
    {
      background bg;
      raw_disk_work(bg, dir.path, round);
      raw = cached_round_trips(registry, opts, bg);
    }
    {
      background bg;
      multistore_disk_work(bg, registry, dir.path, round);
      ms = cached_round_trips(registry, opts, bg);
    }
    p99.push_back(ms.quantile(0.99));
    p99_raw.push_back(raw.quantile(0.99));
    p50.push_back(ms.quantile(0.5));
    p50_raw.push_back(raw.quantile(0.5));
    trips.push_back(static_cast<double>(ms.latency_us.size()));
    trips_raw.push_back(static_cast<double>(raw.latency_us.size()));
    disk.push_back(ms.disk_ops_per_s);
    disk_raw.push_back(raw.disk_ops_per_s);
    p99_ratio.push_back(p99.back() / p99_raw.back());
    trips_ratio.push_back(trips.back() / trips_raw.back());
  }
  auto r99 = median(p99_ratio), rtrips = median(trips_ratio);
  report({"isolation: cached use+release p99, disk busy", median(p99), median(p99_raw), "us", r99,
          "<= 2x", r99 <= 2.0});
  report({"  cached use+release p50, disk busy", median(p50), median(p50_raw), "us",
          median(p50) / median(p50_raw), "info", true});
  report({"isolation: cached round trips in 3 s, disk busy", median(trips), median(trips_raw),
          "ops", rtrips, ">= 0.5x", rtrips >= 0.5});
  report({"  disk work: commits + new databases", median(disk), median(disk_raw), "ops/s",
          median(disk) / median(disk_raw), "info", true});
}

// -- group: commits that queue up share a transaction -------------------------------------

using go_atom = caf::atom_constant<caf::atom("go")>;

template <class Spawn>
double run_clients(caf::actor_system& sys, int clients, std::uint64_t per_client, Spawn spawn) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> actors;
  for (int c = 0; c < clients; ++c)
    actors.push_back(spawn(c, self));
  auto t0 = bench_clock::now();
  for (auto& a : actors)
    self->send(a, go_atom::value);
  for (int c = 0; c < clients; ++c)
    self->receive([](caf::ok_atom) {});
  return static_cast<double>(per_client) * clients / seconds_since(t0);
}

/// Acquires `options` at once; on go, commits `n` single-event commits in a
/// row, each after the previous one was acknowledged. Acquiring before the
/// go lets all clients start committing together.
caf::behavior commit_client(caf::event_based_actor* self, caf::actor registry, options_t options,
                            std::uint64_t n, caf::actor done) {
  struct progress {
    std::uint64_t left;
    std::optional<store_t> store;
    bool go = false;
    std::function<void()> step;
  };
  auto p = std::make_shared<progress>(progress{n, std::nullopt, false, nullptr});
  auto events = store_t::events(note_added{"a note"});
  p->step = [=] {
    if (!p->store || !p->go)
      return;
    if (p->left-- == 0) {
      multistore::release_store(self, registry, *p->store);
      self->send(done, caf::ok_atom::value);
      self->quit();
      p->step = nullptr;  // breaks the cycle through the captured pointer
      return;
    }
    self->request(p->store->store, caf::infinite, multistore::commit_atom::value, events)
        .then([=](std::uint64_t) { p->step(); },
              [=](caf::error& err) { die("commit: " + multistore::to_error(err).message); });
  };
  multistore::acquire_store(
      self, registry, options,
      [=](store_t s) {
        p->store = std::move(s);
        p->step();
      },
      [=](const multistore::error& e) { die("acquire: " + e.message); });
  return {[=](go_atom) {
    p->go = true;
    p->step();
  }};
}

/// 8 actors committing one event at a time to one fsyncing store, against 1
/// actor doing the same: with one transaction per commit both would be bound
/// by the fsync; the store writes what queued up during one transaction in
/// the next, so 8 clients should get several times the events per second.
void group(caf::actor_system& sys, const std::shared_ptr<spdlog::logger>& logger) {
  constexpr int clients = 8;
  constexpr std::uint64_t per_client = 60;  // 8 x 60 commits
  constexpr std::uint64_t single = 100;     // 1 x 100 commits
  scratch_dir dir{"group"};
  multistore::store_registry registry{sys, {}, logger};
  std::vector<double> many, one, ratio;
  for (int round = 0; round < 3; ++round) {
    auto run = [&](const std::string& id, int n_clients, std::uint64_t n) {
      auto opts = file_notes(id, dir.path);
      auto holder = registry.use(opts);  // keeps the store loaded: clients acquire it cached
      return run_clients(sys, n_clients, n, [&](int, caf::scoped_actor& self) {
        return sys.spawn(commit_client, registry.actor(), opts, n, caf::actor{self});
      });
    };
    one.push_back(run("group1-" + std::to_string(round), 1, single));
    many.push_back(run("group8-" + std::to_string(round), clients, per_client));
    ratio.push_back(many.back() / one.back());
  }
  auto r = median(ratio);
  report({"group: commit 1 event, 8 actors vs 1, sync FULL", median(many), median(one), "ev/s", r,
          ">= 3x", r >= 3.0});
}

// -- flood: commits sent without waiting ----------------------------------------------------

/// Resident set size of this process, from /proc/self/statm.
double rss_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

constexpr std::uint64_t flood_commits = 200000;

/// Samples RSS from this thread every 10 ms until `done` is set (or a minute
/// passed: a lost answer would otherwise wait forever), then for 100 ms
/// more; the largest sample, at least `before`.
double peak_rss_until(const std::atomic<bool>& done, double before) {
  double peak = before;
  auto give_up = bench_clock::now() + 60s;
  while (!done.load() && bench_clock::now() < give_up) {
    peak = std::max(peak, rss_bytes());
    std::this_thread::sleep_for(10ms);
  }
  for (int i = 0; i < 10; ++i) {
    peak = std::max(peak, rss_bytes());
    std::this_thread::sleep_for(10ms);
  }
  return peak;
}

/// Written by the flood actor, read by the main thread while it samples RSS.
struct flood_counts {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> overloaded{0};
  std::atomic<std::uint64_t> other{0};
  std::atomic<bool> done{false};
  std::atomic<double> send_seconds{0};  ///< time to send all the requests
  std::string first_other;              ///< the first unexpected error; set before done
};

/// The flood actor's state: its handlers capture only `self`, so each of the
/// 200 000 pending response handlers costs CAF as little as it can.
struct flood_state {
  caf::actor registry;
  std::optional<store_t> store;
  std::uint64_t n = 0;
  std::shared_ptr<flood_counts> counts;

  void on_ok(caf::event_based_actor* self) {
    ++counts->ok;
    answered(self);
  }
  void on_error(caf::event_based_actor* self, const caf::error& err) {
    auto e = multistore::to_error(err);
    if (e.code == multistore::errc::overloaded) {
      ++counts->overloaded;
    } else {
      if (counts->other == 0)
        counts->first_other = std::string{multistore::to_string(e.code)} + ": " + e.message;
      ++counts->other;
    }
    answered(self);
  }
  void answered(caf::event_based_actor* self) {
    if (counts->ok + counts->overloaded + counts->other < n)
      return;
    multistore::release_store(self, registry, *store);
    counts->done = true;
    self->quit();
  }
};

/// Acquires `options` and tells `ready_to`; on go, sends `n` single-event
/// commits from that one handler without waiting for any answer, then counts
/// the answers: a sequence number, errc::overloaded, or anything else.
/// With `requests`, each commit is a request with its own response handler
/// (`request(...).then(...)`, what the commit clients do); without, an
/// asynchronous message that the store answers with an ordinary message
/// back to the sender: the same store work without CAF's per-request
/// bookkeeping in the client.
caf::behavior flood_client(caf::stateful_actor<flood_state>* self, caf::actor registry,
                           options_t options, std::uint64_t n,
                           std::shared_ptr<flood_counts> counts, bool requests,
                           caf::actor ready_to) {
  self->state.registry = registry;
  self->state.n = n;
  self->state.counts = std::move(counts);
  multistore::acquire_store(
      self, registry, options,
      [=](store_t s) {
        self->state.store = std::move(s);
        self->send(ready_to, caf::ok_atom::value);
      },
      [](const multistore::error& e) { die("acquire: " + e.message); });
  // The answers to asynchronous commits: a sequence number arrives as an
  // ordinary message, an error as an error message.
  self->set_error_handler([self](caf::scheduled_actor*, caf::error& err) {
    self->state.on_error(self, err);
  });
  return {[self, requests](go_atom) {
            auto& st = self->state;
            auto events = store_t::events(note_added{"a note"});
            auto t0 = bench_clock::now();
            for (std::uint64_t i = 0; i < st.n; ++i) {
              if (requests)
                self->request(st.store->store, caf::infinite, multistore::commit_atom::value,
                              events)
                    .then([self](std::uint64_t) { self->state.on_ok(self); },
                          [self](caf::error& err) { self->state.on_error(self, err); });
              else
                self->send(st.store->store, multistore::commit_atom::value, events);
            }
            st.counts->send_seconds = seconds_since(t0);
          },
          [self](std::uint64_t) { self->state.on_ok(self); }};
}

/// The same commit messages, sent asynchronously, to an actor that answers
/// each with a number at once: the RSS growth of CAF's mailboxes alone for a
/// flood of this size. Returns {growth MiB, seconds to answer all}.
std::pair<double, double> raw_caf_flood(caf::actor_system& sys) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto echo = sys.spawn([]() -> caf::behavior {
    return {[](multistore::commit_atom, const std::vector<multistore::wire_event>& events) {
      return static_cast<std::uint64_t>(events.size());
    }};
  });
  auto client = sys.spawn([echo, done](caf::event_based_actor* self) -> caf::behavior {
    auto left = std::make_shared<std::uint64_t>(flood_commits);
    return {[=](go_atom) {
              auto events = store_t::events(note_added{"a note"});
              for (std::uint64_t i = 0; i < flood_commits; ++i)
                self->send(echo, multistore::commit_atom::value, events);
            },
            [=](std::uint64_t) {
              if (--*left == 0) {
                *done = true;
                self->quit();
              }
            }};
  });
  ::malloc_trim(0);
  const double before = rss_bytes();
  auto t0 = bench_clock::now();
  caf::anon_send(client, go_atom::value);
  const double peak = peak_rss_until(*done, before);
  const double seconds = seconds_since(t0) - 0.1;
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return {mib(peak - before), seconds};
}

/// 200 000 commits to one memory store, all sent at once by one actor, with
/// the registry's default max_pending_commits (10000): the store must answer
/// every one (written, or refused with errc::overloaded) and its queue must
/// stay bounded. The baseline is the bar, 64 MiB over the RSS just before the
/// flood (printed below it with the peak). The bar is the flood as
/// asynchronous messages, each answered with an ordinary message; with
/// `requests`, the same flood as CAF requests, for information: CAF 0.17
/// keeps a client's pending response handlers in a vector it searches from
/// the front, so 200 000 of them cost the client seconds and tens of MiB of
/// its own (raw CAF alone: about 24 s and 61 MiB here).
void flood(caf::actor_system& sys, const std::shared_ptr<spdlog::logger>& logger, bool requests) {
  constexpr std::uint64_t n = flood_commits;
  constexpr double max_growth_mib = 64;
  multistore::store_registry registry{sys, {}, logger};
  auto opts = notes(requests ? "flood-requests" : "flood-sends");
  auto counts = std::make_shared<flood_counts>();
  caf::scoped_actor self{sys};
  auto client = sys.spawn(flood_client, registry.actor(), opts, n, counts, requests,
                          caf::actor{self});
  self->receive([](caf::ok_atom) {});  // the store is loaded and acquired
  ::malloc_trim(0);
  const double before = rss_bytes();
  auto t0 = bench_clock::now();
  self->send(client, go_atom::value);
  const double peak = peak_rss_until(counts->done, before);
  const double answer_seconds = seconds_since(t0) - 0.1;  // less the sampling after
  if (!counts->done.load())
    caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  const auto ok = counts->ok.load(), over = counts->overloaded.load(),
             other = counts->other.load();
  const bool all_answered = counts->done.load() && other == 0;
  const double growth = mib(peak - before);
  // What the written commits themselves hold: the memory store's database.
  auto db = registry.use(opts).query(
      "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()");
  const double db_mib = mib(db.at(0).at("bytes").get<double>());
  // The asynchronous flood is compared with raw CAF's mailboxes alone,
  // measured after it (a flood measured second finds memory to reuse).
  std::optional<std::pair<double, double>> raw;
  if (!requests)
    raw = raw_caf_flood(sys);
  if (requests)
    report({"  flood as 200000 requests: RSS growth", growth, max_growth_mib, "MiB",
            growth / max_growth_mib, "info", true});
  else
    report({"flood: 200000 commits sent, RSS growth, all answered", growth, max_growth_mib,
            "MiB", growth / max_growth_mib, "<= 64 MiB", all_answered && growth <= max_growth_mib});
  if (raw)
    report({"  raw CAF: the same flood to an actor that answers", raw->first, growth, "MiB",
            raw->first / growth, "info", true});
  report({"  answered: written", static_cast<double>(ok), static_cast<double>(n), "commits",
          static_cast<double>(ok) / n, "info", true});
  report({"  answered: overloaded", static_cast<double>(over), static_cast<double>(n), "commits",
          static_cast<double>(over) / n, "info", true});
  if (!all_answered)
    report({"  answered: other error or none (" + counts->first_other + ")",
            static_cast<double>(n - ok - over), static_cast<double>(n), "commits",
            static_cast<double>(n - ok - over) / n, "info", true});
  report({"  RSS peak / before", mib(peak), mib(before), "MiB", peak / before, "info", true});
  report({"  store database after / RSS growth", db_mib, growth, "MiB", db_mib / growth, "info",
          true});
  report({"  seconds to send all / to answer all", counts->send_seconds.load(), answer_seconds,
          "s", counts->send_seconds.load() / answer_seconds, "info", true});
  if (raw)
    report({"  seconds to answer all vs raw CAF", answer_seconds, raw->second, "s",
            answer_seconds / raw->second, "info", true});
}

}  // namespace

int main(int argc, char** argv) {
  const auto json_path = argument(argc, argv, "--json");
  const auto only = argument(argc, argv, "--only");
  if (!only.empty() && only != "isolation" && only != "group" && only != "flood")
    die("--only takes isolation, group or flood, not '" + only + "'");
  auto wanted = [&](std::string_view name) { return only.empty() || only == name; };
  caf::actor_system_config cfg;
  multistore::configure(cfg);
  caf::actor_system sys{cfg};
  auto quiet = std::make_shared<spdlog::logger>("multistore",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
  print_header();
  try {
    // Each measure has its own registry, with default options.
    if (wanted("isolation"))
      isolation(sys, quiet);
    if (wanted("group"))
      group(sys, quiet);
    if (wanted("flood"))
      for (bool requests : {false, true})
        flood(sys, quiet, requests);
  } catch (const std::exception& e) {
    die(e.what());
  }
  write_json(json_path);
  return 0;
}
