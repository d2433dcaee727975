// Scale benchmarks: multistore against baselines measured in the same process
// and run. For each measure it prints multistore's figure, the baseline's,
// the ratio, the bar and PASS/FAIL (or "info" where the issue sets no bar);
// --json FILE writes the same as JSON. Never a unit test.
//
//   multistore_scale_bench [--json FILE] [--only SECTION] [--repetitions N]
//                          [--churn CYCLES] [--growth-max STORES]
//                          [--memory-stores N] [--file-stores N]
//
// Sections (in order):
//   cached  acquire+release of held stores vs a plain mutex + unordered_map
//           registry (mutex_registry.hpp): what the actor design costs
//   load    use()+release of a file store that is not loaded (a full registry
//           load) vs raw SQLite open + schema check; a new store vs raw create
//   scale   time and RSS of 10 000 memory and 2 000 file stores, RSS per store
//           active and inactive, vs raw connections held open
//   churn   load/dispose cycles (default 1 000 000) with RSS at 1..100%; then
//           a tenth as many cycles on never-used ids
//   growth  acquire+release with 1, 10, 1 000, 100 000 loaded stores vs a
//           registry holding 1, clients walking all ids or keeping to one
//           (100 000 memory stores take ~4.6 GB of RSS)
//
// RSS is read from /proc/self/statm after malloc_trim(0), so it follows live
// memory rather than the allocator's high-water mark.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <multistore/actor_api.hpp>
#include <multistore/client_identity.hpp>
#include <multistore/multistore.hpp>

#include "bench_support.hpp"
#include "mutex_registry.hpp"

namespace {

namespace fs = std::filesystem;
namespace mb = multistore::bench;
using mb::bar_kind;
using mb::bench_clock;
using mb::row;
using namespace std::chrono_literals;

// ---- the benchmark schema --------------------------------------------------------

struct note_added {
  static constexpr std::string_view name = "note_added";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(note_added, text)

constexpr std::string_view notes_table = "CREATE TABLE notes (text TEXT NOT NULL)";

struct notes_schema {
  static constexpr std::string_view name = "scale_notes";
  using events = multistore::event_list<note_added>;
  static void define(multistore::schema_builder& b) {
    b.table("notes", std::string{notes_table});
    b.materialize<note_added>([](const note_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
  }
};

using notes_options = multistore::store_options<notes_schema>;

notes_options memory_store(std::string id, multistore::gc_duration gc) {
  return {.store_id = std::move(id), .gc_time = gc};
}

notes_options file_store(std::string id, const fs::path& dir, multistore::gc_duration gc) {
  return {.store_id = std::move(id), .storage = multistore::sqlite_adapter{dir}, .gc_time = gc};
}

std::string numbered(std::string_view prefix, std::size_t i) {
  return std::string{prefix} + std::to_string(i);
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "scale_bench: " << what << "\n";
  std::exit(2);
}

// ---- raw SQLite baselines ------------------------------------------------------------

void check(int rc, sqlite3* db, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
    die(what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

void exec(sqlite3* db, const std::string& sql) {
  check(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), db, sql);
}

const std::string& schema_hash() {
  static const std::string hash = multistore::schema_of<notes_schema>().hash();
  return hash;
}

/// What a program without multistore writes to get a store: a database with
/// the state table and a meta row holding the schema's hash.
void raw_define(sqlite3* db) {
  exec(db,
       "BEGIN; CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; "
           + std::string{notes_table} + "; INSERT INTO meta VALUES ('schema_hash', '"
           + schema_hash() + "'); COMMIT");
}

sqlite3* raw_open_memory() {
  sqlite3* db = nullptr;
  check(sqlite3_open_v2(":memory:", &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr),
        db, "open :memory:");
  raw_define(db);
  return db;
}

sqlite3* raw_create_file(const fs::path& file) {
  sqlite3* db = nullptr;
  check(sqlite3_open_v2(file.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr),
        db, "create " + file.string());
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  raw_define(db);
  return db;
}

/// Raw open of an existing multistore file plus the schema check a program
/// would do: read the stored schema hash and compare it.
sqlite3* raw_open_checked(const fs::path& file) {
  sqlite3* db = nullptr;
  check(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr),
        db, "open " + file.string());
  sqlite3_stmt* st = nullptr;
  check(sqlite3_prepare_v2(db, "SELECT value FROM __meta WHERE key = 'schema_hash'", -1, &st,
                           nullptr),
        db, "prepare schema check");
  if (sqlite3_step(st) != SQLITE_ROW
      || std::string_view{reinterpret_cast<const char*>(sqlite3_column_text(st, 0))}
             != schema_hash())
    die("raw schema check failed on " + file.string());
  sqlite3_finalize(st);
  return db;
}

/// Creates `ids` as multistore file stores in `dir` (one event each), from
/// many threads: creation waits on fsync, not on the CPU. Setup, not measured.
void create_file_stores(const fs::path& dir, const std::vector<std::string>& ids) {
  fs::create_directories(dir);
  mb::parallel_for(16, ids.size(), [&](std::size_t i) {
    auto engine = multistore::store_engine::open(multistore::schema_of<notes_schema>(), ids[i],
                                                 multistore::sqlite_adapter{dir},
                                                 {"bench-client", "bench-session"});
    if (!engine)
      die("create " + ids[i] + ": " + engine.error().message);
    multistore::store<notes_schema> s{**engine};
    s.commit(note_added{"hello"});
    (*engine)->close();
  });
}

// ---- actors that drive the registry ------------------------------------------------

using go_atom = caf::atom_constant<caf::atom("go")>;

using request_list = std::vector<multistore::store_request>;

/// Acquires and releases the stores of `requests` in turn, `left` times, one
/// request in flight; then sends (ok, failures) to `done`.
struct cycle_client_state {
  std::shared_ptr<const request_list> requests;
  std::size_t next = 0;
  std::uint64_t left = 0;
  std::uint64_t failures = 0;
  caf::actor registry;
  caf::actor done;
  static inline const char* name = "bench.cycle_client";
};
using cycle_client = caf::stateful_actor<cycle_client_state>;

void cycle_step(cycle_client* self) {
  auto& st = self->state;
  if (st.left == 0) {
    self->send(st.done, caf::ok_atom::value, st.failures);
    self->quit();
    return;
  }
  --st.left;
  const auto& req = (*st.requests)[st.next];
  if (++st.next == st.requests->size())
    st.next = 0;
  self->request(st.registry, caf::infinite, multistore::acquire_atom::value, req)
      .then(
          [self](caf::actor&, std::uint64_t lease, std::uint64_t) {
            self->send(self->state.registry, multistore::release_atom::value, lease);
            cycle_step(self);
          },
          [self](caf::error&) {
            ++self->state.failures;
            cycle_step(self);
          });
}

caf::behavior cycle_client_impl(cycle_client* self, std::shared_ptr<const request_list> requests,
                                std::size_t first, std::uint64_t n, caf::actor registry,
                                caf::actor done) {
  auto& st = self->state;
  st.next = first % requests->size();
  st.requests = std::move(requests);
  st.left = n;
  st.registry = std::move(registry);
  st.done = std::move(done);
  return {[self](go_atom) { cycle_step(self); }};
}

/// Acquire+release throughput of `clients` cycle clients, each doing `n`
/// cycles; client c starts at request c * size / clients.
/// With `hot`, client c stays on that one request instead of walking the list.
double run_cycle_clients(caf::actor_system& sys, const caf::actor& registry,
                         const std::shared_ptr<const request_list>& requests, std::size_t clients,
                         std::uint64_t n, bool hot = false) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> actors;
  for (std::size_t c = 0; c < clients; ++c) {
    auto first = c * requests->size() / clients;
    if (hot)
      actors.push_back(sys.spawn(cycle_client_impl,
                                 std::make_shared<const request_list>(1, (*requests)[first]),
                                 std::size_t{0}, n, registry, caf::actor{self}));
    else
      actors.push_back(
          sys.spawn(cycle_client_impl, requests, first, n, registry, caf::actor{self}));
  }
  auto start = bench_clock::now();
  for (auto& a : actors)
    self->send(a, go_atom::value);
  std::uint64_t failures = 0;
  for (std::size_t c = 0; c < clients; ++c)
    self->receive([&](caf::ok_atom, std::uint64_t f) { failures += f; });
  auto secs = mb::seconds_since(start);
  if (failures > 0)
    die(std::to_string(failures) + " acquires failed");
  return static_cast<double>(n * clients) / secs;
}

/// Sends every request of a batch (acquire or preload) keeping `window` in
/// flight; collects the acquired leases.
struct batch {
  request_list requests;
  bool acquire = true;
  std::size_t window = 128;
  std::vector<std::uint64_t> leases;
  std::size_t failures = 0;
  std::string first_error;
};

struct batch_driver_state {
  std::shared_ptr<batch> work;
  std::size_t next = 0;
  std::size_t answered = 0;
  caf::actor registry;
  caf::actor done;
  static inline const char* name = "bench.batch_driver";
};
using batch_driver = caf::stateful_actor<batch_driver_state>;

void batch_issue(batch_driver* self);

void batch_answered(batch_driver* self) {
  auto& st = self->state;
  if (++st.answered == st.work->requests.size()) {
    self->send(st.done, caf::ok_atom::value);
    self->quit();
    return;
  }
  batch_issue(self);
}

void batch_issue(batch_driver* self) {
  auto& st = self->state;
  if (st.next >= st.work->requests.size())
    return;
  const auto& req = st.work->requests[st.next++];
  auto on_error = [self](caf::error& err) {
    auto& w = *self->state.work;
    if (w.failures++ == 0)
      w.first_error = multistore::to_error(err).message;
    batch_answered(self);
  };
  if (st.work->acquire)
    self->request(st.registry, caf::infinite, multistore::acquire_atom::value, req)
        .then(
            [self](caf::actor&, std::uint64_t lease, std::uint64_t) {
              self->state.work->leases.push_back(lease);
              batch_answered(self);
            },
            on_error);
  else
    self->request(st.registry, caf::infinite, multistore::preload_atom::value, req)
        .then([self](caf::ok_atom) { batch_answered(self); }, on_error);
}

caf::behavior batch_driver_impl(batch_driver* self, std::shared_ptr<batch> work,
                                caf::actor registry, caf::actor done) {
  self->state.work = std::move(work);
  self->state.registry = std::move(registry);
  self->state.done = std::move(done);
  return {[self](go_atom) {
    if (self->state.work->requests.empty()) {
      self->send(self->state.done, caf::ok_atom::value);
      self->quit();
      return;
    }
    for (std::size_t i = 0; i < self->state.work->window; ++i)
      batch_issue(self);
  }};
}

/// Runs `work` to completion; dies on any failure.
void run_batch(caf::actor_system& sys, const caf::actor& registry,
               const std::shared_ptr<batch>& work) {
  caf::scoped_actor self{sys};
  auto driver = sys.spawn(batch_driver_impl, work, registry, caf::actor{self});
  self->send(driver, go_atom::value);
  self->receive([](caf::ok_atom) {});
  if (work->failures > 0)
    die(std::to_string(work->failures) + " loads failed, first: " + work->first_error);
}

/// Load/dispose cycles: `slots` loops, each acquiring a store (gc_time 0) and
/// releasing it at once, which disposes it. With a ring, slot s cycles through
/// its own `ring` ids; with `fresh` set, every cycle takes a never-used id.
struct churn_state {
  std::shared_ptr<const request_list> requests;  // slots * ring, slot-major
  std::size_t slots = 0;
  std::size_t ring = 0;
  std::shared_ptr<std::vector<std::uint64_t>> cursor;  // per slot, kept across drivers
  std::string fresh;                                   // prefix of fresh ids; empty: ring
  multistore::store_request scratch;
  std::uint64_t to_issue = 0;
  std::uint64_t outstanding = 0;
  std::uint64_t failures = 0;
  caf::actor registry;
  caf::actor done;
  static inline const char* name = "bench.churn_driver";
};
using churn_driver = caf::stateful_actor<churn_state>;

void churn_issue(churn_driver* self, std::size_t slot) {
  auto& st = self->state;
  if (st.to_issue == 0) {
    if (st.outstanding == 0) {
      self->send(st.done, caf::ok_atom::value, st.failures);
      self->quit();
    }
    return;
  }
  --st.to_issue;
  ++st.outstanding;
  auto k = (*st.cursor)[st.fresh.empty() ? slot : 0]++;
  const multistore::store_request* req = nullptr;
  if (st.fresh.empty()) {
    req = &(*st.requests)[slot * st.ring + k % st.ring];
  } else {
    st.scratch.store_id = st.fresh + std::to_string(k);
    req = &st.scratch;
  }
  self->request(st.registry, caf::infinite, multistore::acquire_atom::value, *req)
      .then(
          [self, slot](caf::actor&, std::uint64_t lease, std::uint64_t) {
            self->send(self->state.registry, multistore::release_atom::value, lease);
            --self->state.outstanding;
            churn_issue(self, slot);
          },
          [self, slot](caf::error&) {
            ++self->state.failures;
            --self->state.outstanding;
            churn_issue(self, slot);
          });
}

caf::behavior churn_driver_impl(churn_driver* self, std::shared_ptr<const request_list> requests,
                                std::size_t slots, std::shared_ptr<std::vector<std::uint64_t>> cursor,
                                std::string fresh, std::uint64_t cycles, caf::actor registry,
                                caf::actor done) {
  auto& st = self->state;
  st.ring = requests->size() / slots;
  st.scratch = requests->front();
  st.requests = std::move(requests);
  st.slots = slots;
  st.cursor = std::move(cursor);
  st.fresh = std::move(fresh);
  st.to_issue = cycles;
  st.registry = std::move(registry);
  st.done = std::move(done);
  return {[self](go_atom) {
    if (self->state.to_issue == 0) {
      self->send(self->state.done, caf::ok_atom::value, std::uint64_t{0});
      self->quit();
      return;
    }
    for (std::size_t s = 0; s < self->state.slots; ++s)
      churn_issue(self, s);
  }};
}

// ---- the run ------------------------------------------------------------------------------

struct options {
  std::string json_path;
  std::string only;
  int repetitions = 5;
  std::uint64_t churn = 1'000'000;
  std::size_t growth_max = 100'000;
  std::size_t memory_stores = 10'000;
  std::size_t file_stores = 2'000;
  bool runs(std::string_view section) const { return only.empty() || only == section; }
};

/// The scale measures load far more stores than the default open-store limit.
const multistore::registry_options unlimited{.max_open_stores = 0};

struct env {
  caf::actor_system& sys;
  std::shared_ptr<spdlog::logger> quiet;
  mb::report& out;
  const options& opt;
  std::size_t workers;  ///< CAF's scheduler threads
  std::size_t cores;    ///< hardware threads: how many threads the raw baselines use
  fs::path scratch;
};

std::shared_ptr<const request_list> requests_for(std::size_t n, std::string_view prefix,
                                                 multistore::gc_duration gc,
                                                 const fs::path& dir = {}, bool observe = true) {
  auto list = std::make_shared<request_list>();
  list->reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto id = numbered(prefix, i);
    list->push_back(multistore::make_store_request(
        dir.empty() ? memory_store(id, gc) : file_store(id, dir, gc), observe));
  }
  return list;
}

/// Polls stats() until `done(stats)`.
template <class Pred>
multistore::registry_stats wait_for(const multistore::store_registry& registry, Pred done) {
  for (;;) {
    auto s = registry.stats();
    if (done(s))
      return s;
    std::this_thread::sleep_for(1ms);
  }
}

bool settled(const multistore::registry_stats& s) {
  return s.loading == 0 && s.active == 0 && s.closing == 0 && s.waiting == 0;
}

// -- cached acquire+release vs a plain mutex + unordered_map registry

using engine_ptr = std::shared_ptr<multistore::store_engine>;

engine_ptr open_memory_engine(const std::string& id) {
  auto engine = multistore::store_engine::open(multistore::schema_of<notes_schema>(), id,
                                               multistore::memory_adapter{},
                                               {"bench-client", "bench-session"});
  if (!engine)
    die("open " + id + ": " + engine.error().message);
  return engine_ptr{std::move(*engine)};
}

double mutex_cycles(mb::mutex_registry<multistore::store_engine>& reg,
                    const std::vector<std::string>& ids, std::uint64_t n) {
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> failures{0};
  auto start = bench_clock::now();
  for (const auto& id : ids)
    threads.emplace_back([&reg, &failures, &id, n] {
      for (std::uint64_t i = 0; i < n; ++i) {
        auto lease = reg.acquire(id);
        if (!lease) {
          ++failures;
          continue;
        }
        reg.release(lease->id);
      }
    });
  for (auto& t : threads)
    t.join();
  auto secs = mb::seconds_since(start);
  if (failures > 0)
    die("mutex registry lost a store");
  return static_cast<double>(n * ids.size()) / secs;
}

void cached_vs_mutex(env& e) {
  e.out.section("cached acquire+release: multistore vs a mutex + unordered_map registry "
                "(bench/mutex_registry.hpp), every store held by an observer");
  multistore::store_registry registry{e.sys, unlimited, e.quiet};
  mb::mutex_registry<multistore::store_engine> baseline;
  constexpr std::uint64_t actor_ops = 20'000;
  constexpr std::uint64_t mutex_ops = 1'000'000;
  std::vector<multistore::store_handle<notes_schema>> holders;
  for (std::size_t clients : {std::size_t{1}, std::size_t{2}}) {
    std::vector<std::string> ids;
    std::vector<std::shared_ptr<const request_list>> lists;
    for (std::size_t c = 0; c < clients; ++c) {
      ids.push_back(numbered("cached-" + std::to_string(clients) + "-", c));
      holders.push_back(registry.use(memory_store(ids.back(), 60s)));
      baseline.insert(ids.back(), open_memory_engine(ids.back()));
      lists.push_back(
          std::make_shared<const request_list>(1, multistore::make_store_request(
                                                      memory_store(ids.back(), 60s))));
    }
    std::vector<double> ours;
    std::vector<double> raw;
    for (int rep = 0; rep < e.opt.repetitions; ++rep) {
      // One client per store, all running at once: start each, then wait for all.
      caf::scoped_actor self{e.sys};
      std::vector<caf::actor> actors;
      for (std::size_t c = 0; c < clients; ++c)
        actors.push_back(e.sys.spawn(cycle_client_impl, lists[c], std::size_t{0}, actor_ops,
                                     registry.actor(), caf::actor{self}));
      auto start = bench_clock::now();
      for (auto& a : actors)
        self->send(a, go_atom::value);
      for (std::size_t c = 0; c < clients; ++c)
        self->receive([](caf::ok_atom, std::uint64_t) {});
      ours.push_back(static_cast<double>(actor_ops * clients) / mb::seconds_since(start));
      raw.push_back(mutex_cycles(baseline, ids, mutex_ops));
    }
    auto name = "cached acquire+release, " + std::to_string(clients)
                + " actor client(s) (mutex map, " + std::to_string(clients) + " thread(s))";
    e.out.add(row{name, "ops/s", mb::median(ours), mb::median(raw), bar_kind::info, 0,
                  {{"multistore_reps", ours}, {"baseline_reps", raw}}});
  }
  {
    constexpr int blocking_ops = 20'000;
    auto opts = memory_store("cached-blocking", 60s);
    holders.push_back(registry.use(opts));
    baseline.insert("cached-blocking", open_memory_engine("cached-blocking"));
    std::vector<double> ours;
    std::vector<double> raw;
    for (int rep = 0; rep < e.opt.repetitions; ++rep) {
      auto start = bench_clock::now();
      for (int i = 0; i < blocking_ops; ++i)
        registry.use(opts).release();
      ours.push_back(blocking_ops / mb::seconds_since(start));
      raw.push_back(mutex_cycles(baseline, {"cached-blocking"}, mutex_ops));
    }
    e.out.add(row{"cached use()+release, blocking thread (mutex map, same thread)", "ops/s",
                  mb::median(ours), mb::median(raw), bar_kind::info, 0,
                  {{"multistore_reps", ours}, {"baseline_reps", raw}}});
  }
}

// -- a full registry load of a file store vs raw SQLite

/// Copies the store files of `from` (closed, checkpointed) to `to`.
void copy_stores(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& f : fs::directory_iterator{from})
    if (f.path().extension() == ".sqlite")
      fs::copy_file(f.path(), to / f.path().filename(), fs::copy_options::overwrite_existing);
}

void registry_load(env& e) {
  e.out.section("file stores through the registry: use()+release of a store that is not loaded "
                "(a full load: store actor, client id, engine open) vs raw SQLite; per store, "
                "the variants run back to back on identical copies, and each keeps what it "
                "opened open until the repetition ends, as the registry keeps stores loaded");
  constexpr std::size_t existing = 100;
  constexpr std::size_t fresh = 10;
  const auto dir = e.scratch / "load";
  const auto engine_dir = e.scratch / "load-engine";
  const auto raw_dir = e.scratch / "load-raw";
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < existing; ++i)
    ids.push_back(numbered("load-", i));
  create_file_stores(dir, ids);
  copy_stores(dir, engine_dir);
  copy_stores(dir, raw_dir);
  multistore::store_registry registry{e.sys, unlimited, e.quiet};
  std::vector<double> ours_load, raw_load, ours_new, raw_new, engine_load, client_id;
  for (int rep = 0; rep < e.opt.repetitions; ++rep) {
    std::vector<double> ours, engine_ms, raw;
    std::vector<std::unique_ptr<multistore::store_engine>> engines;
    std::vector<sqlite3*> held;
    for (const auto& id : ids) {
      // gc_never: the store stays loaded, so nothing closes while the next loads.
      auto opts = file_store(id, dir, multistore::gc_never);
      auto start = bench_clock::now();
      registry.use(opts).release();
      ours.push_back(mb::seconds_since(start) * 1e3);

      // Where the time goes: the engine's open alone (the registry's store
      // actor also reads the directory's client id first, measured below).
      start = bench_clock::now();
      auto engine = multistore::store_engine::open(multistore::schema_of<notes_schema>(), id,
                                                   multistore::sqlite_adapter{engine_dir},
                                                   {"bench-client", "bench-session"});
      engine_ms.push_back(mb::seconds_since(start) * 1e3);
      if (!engine)
        die("open " + id + ": " + engine.error().message);
      engines.push_back(std::move(*engine));

      start = bench_clock::now();
      held.push_back(raw_open_checked(raw_dir / (id + ".sqlite")));
      raw.push_back(mb::seconds_since(start) * 1e3);
    }
    ours_load.push_back(mb::median(ours));
    engine_load.push_back(mb::median(engine_ms));
    raw_load.push_back(mb::median(raw));
    registry.clear().get();
    engines.clear();
    for (auto* db : held)
      sqlite3_close(db);
    held.clear();

    std::vector<double> client;
    for (std::size_t i = 0; i < existing; ++i) {
      auto start = bench_clock::now();
      auto id = multistore::load_or_create_client_id(dir);
      client.push_back(mb::seconds_since(start) * 1e3);
      if (!id)
        die("client id: " + id.error().message);
    }
    client_id.push_back(mb::median(client));

    auto fresh_dir = e.scratch / ("new-" + std::to_string(rep));
    fs::create_directories(fresh_dir);
    double ours_total = 0;
    double raw_total = 0;
    for (std::size_t i = 0; i < fresh; ++i) {
      auto opts = file_store(numbered("new-", i), fresh_dir, multistore::gc_never);
      auto start = bench_clock::now();
      registry.use(opts).release();
      ours_total += mb::seconds_since(start);
      start = bench_clock::now();
      held.push_back(raw_create_file(fresh_dir / ("raw-" + std::to_string(i) + ".sqlite")));
      raw_total += mb::seconds_since(start);
    }
    for (auto* db : held)
      sqlite3_close(db);
    ours_new.push_back(ours_total / fresh * 1e3);
    raw_new.push_back(raw_total / fresh * 1e3);
    registry.clear().get();
    fs::remove_all(fresh_dir);
  }
  e.out.add(row{"registry load of an existing file store (raw open + schema check)", "ms",
                mb::median(ours_load), mb::median(raw_load), bar_kind::at_most, 2.0,
                {{"multistore_reps", ours_load}, {"baseline_reps", raw_load}}});
  e.out.add(row{"  context: store_engine::open alone, same files (raw open + schema check)", "ms",
                mb::median(engine_load), mb::median(raw_load), bar_kind::info, 0,
                {{"multistore_reps", engine_load}}});
  e.out.add(row{"  context: client id file read, load_or_create_client_id (raw open)", "ms",
                mb::median(client_id), mb::median(raw_load), bar_kind::info, 0,
                {{"multistore_reps", client_id}}});
  e.out.add(row{"registry load of a new file store (raw create + tables, WAL)", "ms",
                mb::median(ours_new), mb::median(raw_new), bar_kind::at_most, 1.5,
                {{"multistore_reps", ours_new}, {"baseline_reps", raw_new}}});
}

// -- scale: time and RSS of many loaded stores

void scale(env& e, bool files, std::size_t n) {
  const std::string kind = files ? "file" : "memory";
  const auto count = std::to_string(n);
  e.out.section("scale: " + count + " " + kind + " stores loaded through the registry (acquire, "
                "128 in flight) vs raw SQLite connections opened from "
                + std::to_string(e.cores) + " threads (one per core)");
  auto dir = files ? e.scratch / "scale" : fs::path{};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i)
    ids.push_back(numbered("scale-", i));
  if (files)
    create_file_stores(dir, ids);

  multistore::store_registry registry{e.sys, unlimited, e.quiet};
  auto work = std::make_shared<batch>();
  // observe=false: the leases outlive the driver; an hour of gc_time keeps
  // every released store inactive with its GC timer pending.
  work->requests = *requests_for(n, "scale-", 1h, dir, false);
  const double rss_before = mb::rss_bytes();
  auto start = bench_clock::now();
  run_batch(e.sys, registry.actor(), work);
  const double load_s = mb::seconds_since(start);
  const double rss_active = mb::rss_bytes();
  work->requests = {};
  for (auto lease : work->leases)
    caf::anon_send(registry.actor(), multistore::release_atom::value, lease);
  wait_for(registry, [n](const auto& s) { return s.active == 0 && s.inactive == n; });
  const double rss_inactive = mb::rss_bytes();
  registry.clear().get();
  wait_for(registry, settled);
  const double rss_cleared = mb::rss_bytes();

  // The raw twin: the same number of connections, held open at once.
  std::vector<sqlite3*> raw(n, nullptr);
  const double raw_before = mb::rss_bytes();
  start = bench_clock::now();
  mb::parallel_for(e.cores, n, [&](std::size_t i) {
    raw[i] = files ? raw_open_checked(dir / (ids[i] + ".sqlite")) : raw_open_memory();
  });
  const double raw_s = mb::seconds_since(start);
  const double raw_after = mb::rss_bytes();
  for (auto* db : raw)
    sqlite3_close(db);

  const double per_raw = (raw_after - raw_before) / static_cast<double>(n) / 1024.0;
  const auto baseline_name = files ? std::string{"raw open + schema check, held open"}
                                   : std::string{"raw :memory: open + table, held open"};
  e.out.add(row{"load " + count + " " + kind + " stores, total (" + baseline_name + ")", "s",
                load_s, raw_s, bar_kind::info, 0,
                {{"multistore_loads_per_s", static_cast<double>(n) / load_s},
                 {"baseline_opens_per_s", static_cast<double>(n) / raw_s}}});
  e.out.add(row{"RSS of " + count + " active " + kind + " stores (" + baseline_name + ")", "MiB",
                mb::mib(rss_active - rss_before), mb::mib(raw_after - raw_before), bar_kind::info,
                0});
  e.out.add(row{"RSS per active " + kind + " store (per raw connection)", "KiB",
                (rss_active - rss_before) / static_cast<double>(n) / 1024.0, per_raw,
                bar_kind::info, 0});
  e.out.add(row{"RSS per inactive " + kind + " store, GC timer pending (per raw connection)",
                "KiB", (rss_inactive - rss_before) / static_cast<double>(n) / 1024.0, per_raw,
                bar_kind::info, 0});
  e.out.add(row{"process RSS after clear() of the " + count + " " + kind
                    + " stores (before loading)",
                "MiB", mb::mib(rss_cleared), mb::mib(rss_before), bar_kind::info, 0});
  if (files)
    fs::remove_all(dir);
}

// -- load/dispose churn on memory stores

struct churn_outcome {
  double seconds = 0;
  double rss_start = 0;
  std::vector<std::pair<double, double>> points;  // (fraction done, RSS bytes)
};

/// Runs `cycles` load/dispose cycles in a fresh registry, reading RSS (after
/// the registry settled) at several fractions of the run.
churn_outcome churn_run(env& e, std::uint64_t cycles, bool fresh_ids) {
  multistore::store_registry registry{e.sys, unlimited, e.quiet};
  constexpr std::size_t slots = 32;
  constexpr std::size_t ring = 8;
  auto requests = requests_for(slots * ring, "churn-", 0ms);
  auto cursor = std::make_shared<std::vector<std::uint64_t>>(slots, 0);
  const auto base_stats = registry.stats();
  churn_outcome out;
  out.rss_start = mb::rss_bytes();
  std::uint64_t done = 0;
  std::uint64_t failures = 0;
  for (double fraction : {0.01, 0.10, 0.25, 0.50, 0.75, 1.00}) {
    auto target = static_cast<std::uint64_t>(static_cast<double>(cycles) * fraction);
    if (target <= done)
      continue;
    caf::scoped_actor self{e.sys};
    auto driver = e.sys.spawn(churn_driver_impl, requests, slots, cursor,
                              fresh_ids ? std::string{"fresh-"} : std::string{}, target - done,
                              registry.actor(), caf::actor{self});
    auto start = bench_clock::now();
    self->send(driver, go_atom::value);
    self->receive([&](caf::ok_atom, std::uint64_t f) { failures += f; });
    wait_for(registry, settled);
    out.seconds += mb::seconds_since(start);
    done = target;
    out.points.emplace_back(fraction, mb::rss_bytes());
  }
  const auto end_stats = registry.stats();
  if (failures > 0)
    die(std::to_string(failures) + " churn acquires failed");
  const auto loads = end_stats.loads - base_stats.loads;
  const auto disposals = end_stats.disposals - base_stats.disposals;
  if (loads != cycles || disposals != cycles)
    die("churn: " + std::to_string(loads) + " loads and " + std::to_string(disposals)
        + " disposals for " + std::to_string(cycles) + " cycles");
  return out;
}

/// RSS after 10% of the run: the first cycles warm pools and caches up.
double rss_after_warmup(const churn_outcome& c) {
  for (auto [fraction, rss] : c.points)
    if (fraction == 0.10)
      return rss;
  return c.rss_start;
}

void churn(env& e) {
  const auto cycles = e.opt.churn;
  e.out.section("churn: " + std::to_string(cycles) + " load/dispose cycles of memory stores "
                "(gc_time 0, acquire then release; 32 in flight over 32 x 8 ids), RSS after "
                "malloc_trim(0) once the registry settled");
  const auto ring = churn_run(e, cycles, false);

  // Raw twin of a cycle: open :memory:, create the table, close; one thread per core.
  const std::uint64_t raw_cycles = std::min<std::uint64_t>(cycles, 100'000);
  auto start = bench_clock::now();
  mb::parallel_for(e.cores, raw_cycles, [](std::size_t) { sqlite3_close(raw_open_memory()); });
  const double raw_rate = static_cast<double>(raw_cycles) / mb::seconds_since(start);

  e.out.add(row{"load/dispose churn rate (raw :memory: open + table + close, "
                    + std::to_string(e.cores) + " threads)",
                "cycles/s", static_cast<double>(cycles) / ring.seconds, raw_rate, bar_kind::info,
                0, {{"cycles", cycles}, {"seconds", ring.seconds}}});
  for (auto [fraction, rss] : ring.points) {
    char name[96];
    std::snprintf(name, sizeof name, "churn RSS after %.0f%% of the cycles (RSS at start)",
                  fraction * 100);
    e.out.add(row{name, "MiB", mb::mib(rss), mb::mib(ring.rss_start), bar_kind::info, 0});
  }
  // Flat: what the last 90% of the cycles added stays within allocator noise
  // (measured at up to ~7% of a 12 MiB process); a leak of 16 bytes per cycle
  // would add 14 MiB over a million cycles.
  const double warm = rss_after_warmup(ring);
  const double growth = (ring.points.back().second - warm)
                        / (static_cast<double>(cycles) * 0.9);
  e.out.add(row{"churn RSS after 100% vs after 10% (flat: no growth past noise)", "MiB",
                mb::mib(ring.points.back().second), mb::mib(warm), bar_kind::at_most, 1.10,
                {{"bytes_per_cycle", growth}}});

  // The same with a never-used id per cycle, as a server sees new tenants and
  // documents over its life: fewer cycles, same bar.
  const auto fresh_cycles = std::max<std::uint64_t>(1000, cycles / 10);
  e.out.section("churn with fresh ids: " + std::to_string(fresh_cycles)
                + " load/dispose cycles, each on an id never used before");
  const auto fresh = churn_run(e, fresh_cycles, true);
  const double fresh_warm = rss_after_warmup(fresh);
  const double fresh_growth = (fresh.points.back().second - fresh_warm)
                              / (static_cast<double>(fresh_cycles) * 0.9);
  char name[112];
  std::snprintf(name, sizeof name,
                "fresh-id churn RSS after 100%% vs after 10%% (%.0f bytes per cycle)",
                fresh_growth);
  e.out.add(row{name, "MiB", mb::mib(fresh.points.back().second), mb::mib(fresh_warm),
                bar_kind::at_most, 1.10,
                {{"bytes_per_cycle", fresh_growth},
                 {"cycles", fresh_cycles},
                 {"cycles_per_s", static_cast<double>(fresh_cycles) / fresh.seconds},
                 {"rss_start_mib", mb::mib(fresh.rss_start)}}});
}

// -- how acquire+release cost grows with the number of loaded stores

/// Context for the growth rows: the plain mutex + unordered_map registry
/// walking `n` entries vs holding 1, in the same process (its nodes are
/// allocated back to back, unlike the registry's, which sit between the
/// stores' own allocations).
void mutex_growth(env& e, std::size_t n) {
  constexpr std::uint64_t ops = 1'000'000;
  mb::mutex_registry<int> one;
  mb::mutex_registry<int> many;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back(numbered("mutex-", i));
    many.insert(ids.back(), std::make_shared<int>(0));
  }
  one.insert(ids.front(), std::make_shared<int>(0));
  auto walk = [&](mb::mutex_registry<int>& reg, std::size_t count) {
    auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < ops; ++i) {
      auto lease = reg.acquire(ids[i % count]);
      if (!lease)
        die("mutex registry lost an entry");
      reg.release(lease->id);
    }
    return static_cast<double>(ops) / mb::seconds_since(start);
  };
  std::vector<double> ours;
  std::vector<double> ref;
  for (int rep = 0; rep < e.opt.repetitions; ++rep) {
    ref.push_back(walk(one, 1));
    ours.push_back(walk(many, n));
  }
  e.out.add(row{"  context: mutex map, 1 thread walking " + std::to_string(n)
                    + " entries (holding 1)",
                "ops/s", mb::median(ours), mb::median(ref), bar_kind::info, 0});
}

void growth(env& e) {
  e.out.section(
      "growth: acquire+release throughput with N loaded memory stores (gc_never, inactive "
      "between cycles) vs a second registry holding 1 store, measured interleaved, median of "
      + std::to_string(std::max(e.opt.repetitions, 9)) + " repetitions");
  multistore::store_registry reference{e.sys, {}, e.quiet};
  multistore::store_registry registry{e.sys, unlimited, e.quiet};
  auto ref_requests = requests_for(1, "ref-", multistore::gc_never);
  {
    auto w = std::make_shared<batch>();
    w->requests = *ref_requests;
    w->acquire = false;
    run_batch(e.sys, reference.actor(), w);
  }
  // Short, many, alternating repetitions: a burst of load from elsewhere on
  // the machine then hits one repetition of either side, not the median.
  constexpr std::uint64_t ops = 10'000;
  const int reps = std::max(e.opt.repetitions, 9);
  std::size_t loaded = 0;
  std::vector<std::size_t> levels;
  for (std::size_t level : {std::size_t{1}, std::size_t{10}, std::size_t{1'000},
                            std::size_t{100'000}})
    if (level <= e.opt.growth_max)
      levels.push_back(level);
  if (levels.back() != e.opt.growth_max && e.opt.growth_max > 1)
    levels.push_back(e.opt.growth_max);
  for (auto level : levels) {
    auto all = requests_for(level, "grow-", multistore::gc_never);
    {
      auto w = std::make_shared<batch>();
      w->requests.assign(all->begin() + static_cast<std::ptrdiff_t>(loaded), all->end());
      w->acquire = false;
      w->window = 256;
      auto start = bench_clock::now();
      run_batch(e.sys, registry.actor(), w);
      if (level > 1000)
        e.out.section("growth: loaded " + std::to_string(level - loaded) + " more stores in "
                      + std::to_string(mb::seconds_since(start)) + " s, process RSS "
                      + std::to_string(static_cast<long>(mb::mib(mb::rss_bytes()))) + " MiB");
      loaded = level;
    }
    // Walking: every cycle takes the next of the N ids (touches cold
    // entries); hot: each client keeps to one id (finds the count's own cost).
    for (bool hot : {false, true})
      for (std::size_t clients : {std::size_t{1}, std::size_t{4}}) {
        std::vector<double> ours;
        std::vector<double> ref;
        for (int rep = 0; rep < reps; ++rep) {
          ref.push_back(
              run_cycle_clients(e.sys, reference.actor(), ref_requests, clients, ops, hot));
          ours.push_back(run_cycle_clients(e.sys, registry.actor(), all, clients, ops, hot));
        }
        auto name = "acquire+release, " + std::to_string(clients) + " client(s) "
                    + (hot ? std::string{"on one id each"} : std::string{"walking all ids"})
                    + ", " + std::to_string(level) + " loaded (1 store)";
        e.out.add(row{name, "ops/s", mb::median(ours), mb::median(ref), bar_kind::at_least, 0.8,
                      {{"multistore_reps", ours}, {"baseline_reps", ref}}});
      }
    if (level >= 1000)
      mutex_growth(e, level);
  }
}

// ---- main --------------------------------------------------------------------------------

options parse(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(std::string{arg} + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> std::uint64_t {
      auto v = value();
      char* end = nullptr;
      auto n = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0')
        die(std::string{arg} + " takes a number, not '" + v + "'");
      return n;
    };
    if (arg == "--json")
      opt.json_path = value();
    else if (arg == "--only")
      opt.only = value();
    else if (arg == "--repetitions")
      opt.repetitions = static_cast<int>(std::max<std::uint64_t>(1, number()));
    else if (arg == "--churn")
      opt.churn = std::max<std::uint64_t>(100, number());
    else if (arg == "--growth-max")
      opt.growth_max = static_cast<std::size_t>(std::max<std::uint64_t>(1, number()));
    else if (arg == "--memory-stores")
      opt.memory_stores = static_cast<std::size_t>(std::max<std::uint64_t>(1, number()));
    else if (arg == "--file-stores")
      opt.file_stores = static_cast<std::size_t>(std::max<std::uint64_t>(1, number()));
    else
      die("usage: multistore_scale_bench [--json FILE] [--only cached|load|scale|churn|growth] "
          "[--repetitions N] [--churn CYCLES] [--growth-max STORES] [--memory-stores N] "
          "[--file-stores N]");
  }
  return opt;
}

/// File stores hold 3-4 descriptors each: lift the soft limit to the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = parse(argc, argv);
  raise_fd_limit();
  caf::actor_system_config cfg;
  multistore::configure(cfg);
  mb::report out;
  {
    caf::actor_system sys{cfg};
    auto quiet = std::make_shared<spdlog::logger>(
        "multistore", std::make_shared<spdlog::sinks::null_sink_mt>());
    mb::scratch_dir scratch{"multistore-scale-bench"};
    env e{sys,
          quiet,
          out,
          opt,
          sys.scheduler().num_workers(),
          std::max<std::size_t>(1, std::thread::hardware_concurrency()),
          scratch.path()};
    char title[160];
    std::snprintf(title, sizeof title,
                  "multistore scale bench: same-process baselines, SQLite %s, %zu scheduler "
                  "workers, %u hardware threads, median of %d repetitions where repeated",
                  sqlite3_libversion(), e.workers, static_cast<unsigned>(e.cores),
                  opt.repetitions);
    out.header(title);
    if (opt.runs("cached"))
      cached_vs_mutex(e);
    if (opt.runs("load"))
      registry_load(e);
    if (opt.runs("scale")) {
      scale(e, false, opt.memory_stores);
      scale(e, true, opt.file_stores);
    }
    if (opt.runs("churn"))
      churn(e);
    if (opt.runs("growth"))
      growth(e);
  }
  if (!opt.json_path.empty()) {
    auto j = out.to_json({{"benchmark", "multistore_scale_bench"},
                          {"sqlite_version", sqlite3_libversion()},
                          {"repetitions", opt.repetitions},
                          {"churn_cycles", opt.churn},
                          {"hardware_threads", std::thread::hardware_concurrency()}});
    std::ofstream file{opt.json_path};
    file << j.dump(2) << "\n";
    if (!file)
      die("cannot write " + opt.json_path);
  }
  return 0;
}
