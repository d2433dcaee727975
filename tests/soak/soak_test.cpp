// The soak test: 1 000 stores, half SQLite files and half memory,
// and 64 client actors that acquire, commit, query and release through the
// registry's message protocol with gc_times of 0–50 ms, on the real scheduler
// and the real clock, for MULTISTORE_SOAK_SECONDS (default 60). A few stores
// keep a long gc_time or gc_never so that some GC timers must survive the run.
//
// Afterwards nothing may be left over: once the registry settled there is no
// lease, no waiting call and a GC timer only for each inactive store with a
// finite gc_time; the registry's counters agree with what the clients counted;
// every acknowledged event is in its store and nothing else is; after clear()
// there is no timer and the open file descriptors are back to where they
// started; and RSS in the last quarter of the run is not far above the first.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "multistore/actor_api.hpp"
#include "multistore/multistore.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/store_actor.hpp"
#include "multistore/store_engine.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

// -- the stores ----------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
#define MULTISTORE_SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MULTISTORE_SOAK_ASAN 1
#endif
#endif
#ifdef MULTISTORE_SOAK_ASAN
/// AddressSanitizer keeps freed memory in a quarantine of up to 256 MB, so RSS
/// grows through a run without any leak: the bound is not checked there.
constexpr bool rss_bound_applies = false;
#else
constexpr bool rss_bound_applies = true;
#endif

constexpr std::size_t store_count = 1000;
constexpr std::size_t client_count = 64;
constexpr std::int64_t short_gc_max_ms = 50;
constexpr multistore::gc_duration long_gc_time = std::chrono::hours{1};

/// One event per entry; (client, n) is unique over the whole run.
struct entry_added {
  static constexpr std::string_view name = "entry_added";
  std::int64_t client = 0;
  std::int64_t n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(entry_added, client, n)

struct soak_schema {
  static constexpr std::string_view name = "soak";
  using events = multistore::event_list<entry_added>;
  static void define(multistore::schema_builder& b) {
    b.table("entries",
            "CREATE TABLE entries (client INTEGER NOT NULL, n INTEGER NOT NULL, "
            "PRIMARY KEY (client, n))");
    b.materialize<entry_added>([](const entry_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO entries (client, n) VALUES (?, ?)", e.client, e.n);
    });
  }
};

/// How long a store stays loaded once unobserved.
enum class gc_class { short_gc, long_gc, never };

/// Even stores are files, odd ones memory; one in 25 keeps a long gc_time and
/// one in 25 gc_never (both kinds of storage each).
bool is_file(std::size_t i) { return i % 2 == 0; }

gc_class gc_of(std::size_t i) {
  switch (i % 25) {
    case 3: return gc_class::long_gc;
    case 11: return gc_class::never;
    default: return gc_class::short_gc;
  }
}

std::string store_name(std::size_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "soak-%04zu", i);
  return buf;
}

/// The options of one call: short stores get a gc_time of 0–50 ms per call
/// (the entry keeps the longest of its lifetime).
multistore::store_options<soak_schema> options_for(std::size_t i, const fs::path& dir,
                                                   std::mt19937_64& rng) {
  multistore::gc_duration gc;
  switch (gc_of(i)) {
    case gc_class::long_gc: gc = long_gc_time; break;
    case gc_class::never: gc = multistore::gc_never; break;
    default:
      gc = multistore::gc_duration{
          std::uniform_int_distribution<std::int64_t>{0, short_gc_max_ms}(rng)};
  }
  multistore::store_options<soak_schema> o{.store_id = store_name(i), .gc_time = gc};
  if (is_file(i))
    o.storage = multistore::sqlite_adapter{dir};
  return o;
}

// -- what the clients count ------------------------------------------------------

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Order-independent digest of a set of events: equal counts and sums mean
/// (with overwhelming probability) the same events at the same positions.
struct tally {
  std::uint64_t events = 0;
  std::uint64_t with_seq = 0;     ///< over (seq, client, n)
  std::uint64_t without_seq = 0;  ///< over (client, n): what the state table shows

  void add(std::uint64_t seq, std::int64_t client, std::int64_t n) {
    const auto h = mix(mix(static_cast<std::uint64_t>(client)) ^ static_cast<std::uint64_t>(n));
    ++events;
    without_seq += h;
    with_seq += mix(h ^ mix(seq));
  }
  void merge(const tally& o) {
    events += o.events;
    with_seq += o.with_seq;
    without_seq += o.without_seq;
  }
  friend bool operator==(const tally&, const tally&) = default;
};

/// A client's account of the run, handed over when it quits.
struct client_report {
  std::vector<tally> tallies = std::vector<tally>(store_count);  ///< acknowledged, per store
  std::vector<char> loaded = std::vector<char>(store_count, 0);  ///< acquired or preloaded
  std::uint64_t sessions = 0;
  std::uint64_t acquires = 0;        ///< acquires answered with a store
  std::uint64_t releases = 0;        ///< release messages sent
  std::uint64_t child_acquires = 0;  ///< acquires of children that quit holding the lease
  std::uint64_t commits = 0;
  std::uint64_t events = 0;
  std::uint64_t own_reads = 0;  ///< read-your-writes checks
  std::uint64_t preloads = 0;
  std::uint64_t errors = 0;
  std::vector<std::string> problems;  ///< the first few

  void problem(std::string what) {
    ++errors;
    if (problems.size() < 10)
      problems.push_back(std::move(what));
  }
};

/// Shared by the test thread and the clients.
struct run_state {
  fs::path dir;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> finished{0};
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::int64_t> next_child_client{1'000'000};
  std::vector<client_report> reports = std::vector<client_report>(client_count);
};

/// Picks a store: half the time Zipf-like (a few hot stores shared by many
/// clients), half the time uniformly (cold stores loaded and disposed).
class store_picker {
 public:
  store_picker() : cdf_(store_count) {
    double sum = 0;
    for (std::size_t k = 0; k < store_count; ++k)
      cdf_[k] = sum += 1.0 / static_cast<double>(k + 1);
    for (auto& c : cdf_)
      c /= sum;
  }
  std::size_t operator()(std::mt19937_64& rng) const {
    if (std::bernoulli_distribution{0.5}(rng))
      return std::uniform_int_distribution<std::size_t>{0, store_count - 1}(rng);
    auto u = std::uniform_real_distribution<double>{0, 1}(rng);
    auto i = static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    return std::min(i, store_count - 1);
  }

 private:
  std::vector<double> cdf_;
};

// -- the client actor ----------------------------------------------------------------

using next_atom = caf::atom_constant<caf::atom("next")>;
using child_atom = caf::atom_constant<caf::atom("child")>;

/// What one client knows of one store: its own events in the current instance
/// (memory) or ever (file), and the last sequence number it was acknowledged.
struct store_view {
  std::uint64_t instance = 0;
  std::uint64_t own = 0;
  std::uint64_t last_seq = 0;
};

struct held {
  std::size_t idx = 0;
  caf::actor store;
  std::uint64_t lease = 0;
  std::uint64_t instance = 0;
};

struct client_state {
  run_state* run = nullptr;
  const store_picker* pick = nullptr;
  std::size_t index = 0;
  std::int64_t client = 0;
  caf::actor registry;
  std::mt19937_64 rng;
  std::vector<store_view> views = std::vector<store_view>(store_count);
  client_report report;
  std::int64_t next_n = 0;
  std::size_t outstanding = 0;  ///< children and preloads not answered yet
  bool parked = false;          ///< stopping, waiting for the outstanding ones
  static inline const char* name = "soak.client";
};

using client_actor = caf::stateful_actor<client_state>;
using step = std::function<void()>;

bool chance(client_actor* self, int percent) {
  return std::uniform_int_distribution<int>{0, 99}(self->state.rng) < percent;
}

std::string describe(const caf::error& err) { return multistore::to_error(err).message; }

void finish(client_actor* self) {
  auto& st = self->state;
  st.run->reports[st.index] = std::move(st.report);
  st.run->finished.fetch_add(1, std::memory_order_acq_rel);
  self->quit();
}

void acquire(client_actor* self, std::size_t idx, std::function<void(held)> ok, step failed) {
  auto& st = self->state;
  self->request(st.registry, caf::infinite, multistore::acquire_atom::value,
                multistore::make_store_request(options_for(idx, st.run->dir, st.rng)))
      .then(
          [self, idx, ok](caf::actor& store, std::uint64_t lease, std::uint64_t instance) {
            auto& cs = self->state;
            ++cs.report.acquires;
            cs.report.loaded[idx] = 1;
            if (!store)
              cs.report.problem(store_name(idx) + ": acquire answered without a store");
            auto& v = cs.views[idx];
            if (!is_file(idx) && v.instance != instance)
              v = store_view{};  // a new memory instance starts empty
            v.instance = instance;
            ok(held{idx, std::move(store), lease, instance});
          },
          [self, idx, failed](caf::error& err) {
            self->state.report.problem(store_name(idx) + ": acquire failed: " + describe(err));
            failed();
          });
}

void release(client_actor* self, const held& h) {
  self->send(self->state.registry, multistore::release_atom::value, h.lease);
  ++self->state.report.releases;
}

/// Commits a batch of 1–3 events and checks its sequence numbers follow the
/// client's previous commit to this store.
void commit(client_actor* self, const held& h, step then) {
  auto& st = self->state;
  const auto k = std::uniform_int_distribution<std::int64_t>{1, 3}(st.rng);
  const auto first = st.next_n;
  st.next_n += k;
  std::vector<multistore::wire_event> events;
  for (std::int64_t j = 0; j < k; ++j)
    events.push_back({std::string{entry_added::name},
                      nlohmann::json(entry_added{st.client, first + j}).dump()});
  self->request(h.store, caf::infinite, multistore::commit_atom::value, std::move(events))
      .then(
          [self, h, k, first, then](std::uint64_t seq) {
            auto& cs = self->state;
            const auto n = static_cast<std::uint64_t>(k);
            auto& v = cs.views[h.idx];
            if (seq < n || seq - n < v.last_seq)
              cs.report.problem(store_name(h.idx) + ": batch of " + std::to_string(n)
                                + " acknowledged at " + std::to_string(seq) + " after "
                                + std::to_string(v.last_seq));
            v.last_seq = seq;
            v.own += n;
            for (std::uint64_t j = 0; j < n; ++j)
              cs.report.tallies[h.idx].add(seq - n + 1 + j, cs.client,
                                           first + static_cast<std::int64_t>(j));
            ++cs.report.commits;
            cs.report.events += n;
            cs.run->commits.fetch_add(1, std::memory_order_relaxed);
            then();
          },
          [self, h, then](caf::error& err) {
            self->state.report.problem(store_name(h.idx) + ": commit failed: " + describe(err));
            then();
          });
}

/// The client's own rows in the store are exactly the events it committed to
/// this instance (memory) or ever (file).
void read_own(client_actor* self, const held& h, step then) {
  auto& st = self->state;
  self->request(h.store, caf::infinite, multistore::query_atom::value,
                std::string{"SELECT count(*) AS n FROM entries WHERE client = ?"},
                "[" + std::to_string(st.client) + "]")
      .then(
          [self, h, then](const std::string& rows) {
            auto& cs = self->state;
            const auto n = nlohmann::json::parse(rows).at(0).at("n").get<std::uint64_t>();
            const auto& v = cs.views[h.idx];
            ++cs.report.own_reads;
            if (n != v.own)
              cs.report.problem(store_name(h.idx) + ": client " + std::to_string(cs.client)
                                + " reads " + std::to_string(n) + " own rows, committed "
                                + std::to_string(v.own));
            then();
          },
          [self, h, then](caf::error& err) {
            self->state.report.problem(store_name(h.idx) + ": query failed: " + describe(err));
            then();
          });
}

/// What a client does with a store it holds: mostly one commit, sometimes two,
/// sometimes a read of its own rows, sometimes nothing.
void work(client_actor* self, const held& h, step done) {
  if (chance(self, 10)) {
    done();
    return;
  }
  commit(self, h, [self, h, done] {
    step after = [self, h, done] {
      if (chance(self, 25))
        read_own(self, h, done);
      else
        done();
    };
    if (chance(self, 25))
      commit(self, h, after);
    else
      after();
  });
}

/// A child acquires a store, commits one event, reports to its parent and
/// quits still holding its lease: the registry must release it on the down
/// message.
caf::behavior child(caf::event_based_actor* self, caf::actor parent, caf::actor registry,
                    std::size_t idx, std::int64_t client, fs::path dir, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  auto report = [self, parent, idx, client](std::uint64_t instance, std::uint64_t seq,
                                            std::string error) {
    self->send(parent, child_atom::value, std::uint64_t{idx}, instance, seq, client,
               std::move(error));
    self->quit();
  };
  self->request(registry, caf::infinite, multistore::acquire_atom::value,
                multistore::make_store_request(options_for(idx, dir, rng)))
      .then(
          [self, client, report](caf::actor& store, std::uint64_t, std::uint64_t instance) {
            std::vector<multistore::wire_event> events{
                {std::string{entry_added::name}, nlohmann::json(entry_added{client, 0}).dump()}};
            self->request(store, caf::infinite, multistore::commit_atom::value, std::move(events))
                .then([report, instance](std::uint64_t seq) { report(instance, seq, {}); },
                      [report, instance](caf::error& err) {
                        report(instance, 0, "commit failed: " + describe(err));
                      });
          },
          [report](caf::error& err) { report(0, 0, "acquire failed: " + describe(err)); });
  return {[](caf::get_atom) {}};
}

/// One session: acquire every store of it, work on each in turn, release all.
struct session : std::enable_shared_from_this<session> {
  client_actor* self;
  std::vector<std::size_t> ids;
  std::vector<held> hs;

  session(client_actor* s, std::vector<std::size_t> i) : self(s), ids(std::move(i)) {}

  void acquire_next() {
    if (hs.size() == ids.size()) {
      work_next(0);
      return;
    }
    acquire(
        self, ids[hs.size()],
        [s = shared_from_this()](held h) {
          s->hs.push_back(std::move(h));
          s->acquire_next();
        },
        [s = shared_from_this()] { s->end(); });
  }

  void work_next(std::size_t k) {
    if (k == hs.size()) {
      end();
      return;
    }
    work(self, hs[k], [s = shared_from_this(), k] { s->work_next(k + 1); });
  }

  void end() {
    for (const auto& h : hs)
      release(self, h);
    self->send(self, next_atom::value);
  }
};

void iterate(client_actor* self) {
  auto& st = self->state;
  if (st.run->stopping.load(std::memory_order_relaxed)) {
    if (st.outstanding == 0)
      finish(self);
    else
      st.parked = true;  // the last child or preload to answer finishes
    return;
  }
  if (chance(self, 2)) {
    const auto idx = (*st.pick)(st.rng);
    ++st.outstanding;
    self->request(st.registry, caf::infinite, multistore::preload_atom::value,
                  multistore::make_store_request(options_for(idx, st.run->dir, st.rng), false))
        .then(
            [self, idx](caf::ok_atom) {
              auto& cs = self->state;
              --cs.outstanding;
              ++cs.report.preloads;
              cs.report.loaded[idx] = 1;
              if (cs.parked && cs.outstanding == 0)
                finish(self);
            },
            [self, idx](caf::error& err) {
              auto& cs = self->state;
              --cs.outstanding;
              cs.report.problem(store_name(idx) + ": preload failed: " + describe(err));
              if (cs.parked && cs.outstanding == 0)
                finish(self);
            });
  }
  if (chance(self, 1)) {
    ++st.outstanding;
    self->spawn(child, caf::actor_cast<caf::actor>(self), st.registry, (*st.pick)(st.rng),
                st.run->next_child_client.fetch_add(1), st.run->dir, st.rng());
  }
  ++st.report.sessions;
  std::vector<std::size_t> ids{(*st.pick)(st.rng)};
  if (chance(self, 20)) {
    auto other = (*st.pick)(st.rng);
    if (other != ids[0])
      ids.push_back(other);
  }
  std::make_shared<session>(self, std::move(ids))->acquire_next();
}

caf::behavior client(client_actor* self, run_state* run, const store_picker* pick,
                     std::size_t index, caf::actor registry) {
  auto& st = self->state;
  st.run = run;
  st.pick = pick;
  st.index = index;
  st.client = static_cast<std::int64_t>(index) + 1;
  st.registry = std::move(registry);
  st.rng.seed(0x5eed0000 + index);
  self->send(self, next_atom::value);
  return {
      [self](next_atom) { iterate(self); },
      [self](child_atom, std::uint64_t idx, std::uint64_t /* instance */, std::uint64_t seq,
             std::int64_t client, const std::string& error) {
        auto& cs = self->state;
        --cs.outstanding;
        if (!error.empty()) {
          cs.report.problem(store_name(idx) + ": child " + std::to_string(client) + ": " + error);
        } else {
          ++cs.report.child_acquires;
          cs.report.loaded[idx] = 1;
          cs.report.tallies[idx].add(seq, client, 0);
          ++cs.report.commits;
          ++cs.report.events;
        }
        if (cs.parked && cs.outstanding == 0)
          finish(self);
      },
  };
}

// -- measurements -----------------------------------------------------------------------


double mb(std::uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

double soak_seconds() {
  if (const char* s = std::getenv("MULTISTORE_SOAK_SECONDS")) {
    char* end = nullptr;
    auto v = std::strtod(s, &end);
    if (end != s && v > 0)
      return v;
  }
  return 60;
}

bool wait_until(const std::function<bool()>& done, clock_type::duration limit) {
  const auto give_up = clock_type::now() + limit;
  while (!done()) {
    if (clock_type::now() >= give_up)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

void print_stats(const char* when, const multistore::registry_stats& s) {
  std::printf("soak: %s: loading=%zu active=%zu inactive=%zu closing=%zu leases=%zu waiting=%zu "
              "pending_timers=%zu loads=%llu load_failures=%llu disposals=%llu\n",
              when, s.loading, s.active, s.inactive, s.closing, s.leases, s.waiting,
              s.pending_timers, static_cast<unsigned long long>(s.loads),
              static_cast<unsigned long long>(s.load_failures),
              static_cast<unsigned long long>(s.disposals));
  std::fflush(stdout);
}

/// The events of a memory store still loaded, read through the registry.
tally read_memory_store(multistore::store_registry& registry, std::size_t idx, const fs::path& dir,
                        std::mt19937_64& rng) {
  auto h = registry.use(options_for(idx, dir, rng));
  tally t;
  for (const auto& row : h.query("SELECT client, n FROM entries")) {
    const auto h1 = mix(mix(static_cast<std::uint64_t>(row.at("client").get<std::int64_t>()))
                        ^ static_cast<std::uint64_t>(row.at("n").get<std::int64_t>()));
    ++t.events;
    t.without_seq += h1;
  }
  return t;
}

struct file_check {
  tally found;
  std::uint64_t rows = 0;
  std::string problem;
};

/// Reopens a file store after clear(): its log must be 1..N without a gap and
/// its state table must hold one row per event.
file_check read_file_store(std::size_t idx, const fs::path& dir) {
  file_check out;
  const auto id = store_name(idx);
  auto engine = multistore::store_engine::open(multistore::schema_of<soak_schema>(), id,
                                               multistore::sqlite_adapter{dir},
                                               multistore::store_identity{"verify", "verify"});
  if (!engine) {
    out.problem = id + ": cannot reopen: " + engine.error().message;
    return out;
  }
  auto events = (*engine)->read_events();
  if (!events) {
    out.problem = id + ": cannot read the log: " + events.error().message;
    return out;
  }
  std::uint64_t expect = 1;
  for (const auto& e : *events) {
    if (e.seq != expect && out.problem.empty())
      out.problem = id + ": log has seq " + std::to_string(e.seq) + " where "
                    + std::to_string(expect) + " was expected";
    expect = e.seq + 1;
    out.found.add(e.seq, e.args.at("client").get<std::int64_t>(),
                  e.args.at("n").get<std::int64_t>());
  }
  auto rows = (*engine)->query("SELECT count(*) AS n FROM entries");
  if (rows)
    out.rows = (*rows).at(0).at("n").get<std::uint64_t>();
  else if (out.problem.empty())
    out.problem = id + ": cannot count rows: " + rows.error().message;
  (*engine)->close();
  return out;
}

}  // namespace

TEST_CASE("1000 stores churned by 64 clients leave no lease timer descriptor or lost event behind",
          "[soak]") {
  const double seconds = soak_seconds();
  temp_dir tmp;
  run_state run;
  run.dir = tmp.path() / "stores";
  const store_picker pick;
  std::mt19937_64 rng{42};
  std::printf("soak: %zu stores (%zu file, %zu memory), %zu clients, gc 0-%lld ms, %.0f s, in %s\n",
              store_count, store_count / 2, store_count - store_count / 2, client_count,
              static_cast<long long>(short_gc_max_ms), seconds, run.dir.c_str());
  const auto fds_before_system = multistore::open_file_descriptors();

  {
    caf::actor_system_config cfg;
    multistore::configure(cfg);
    caf::actor_system sys{cfg};
    auto quiet = std::make_shared<spdlog::logger>(
        "soak", std::make_shared<spdlog::sinks::null_sink_mt>());
    multistore::store_registry registry{sys, {}, quiet};
    const auto fds_at_start = multistore::open_file_descriptors();
    const auto rss_at_start = multistore::resident_bytes();

    std::vector<caf::actor> clients;
    for (std::size_t c = 0; c < client_count; ++c)
      clients.push_back(sys.spawn(client, &run, &pick, c, registry.actor()));

    // -- the run: sample RSS and the registry once a second ------------------------
    struct sample {
      double t;
      std::uint64_t rss;
    };
    std::vector<sample> samples;
    const auto start = clock_type::now();
    const auto end = start + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>{seconds});
    std::uint64_t last_commits = 0;
    auto last = start;
    std::size_t peak_fds = 0;
    while (clock_type::now() < end) {
      std::this_thread::sleep_until(std::min(end, last + 1s));
      const auto now = clock_type::now();
      const double t = std::chrono::duration<double>(now - start).count();
      const auto rss = multistore::resident_bytes();
      const auto fds = multistore::open_file_descriptors();
      peak_fds = std::max(peak_fds, fds);
      samples.push_back({t, rss});
      const auto commits = run.commits.load(std::memory_order_relaxed);
      const auto s = registry.stats();
      if (samples.size() % 5 == 0 || now >= end)
        std::printf("soak: [%5.1fs] loading=%zu active=%zu inactive=%zu closing=%zu leases=%zu "
                    "timers=%zu | loads=%llu disposals=%llu | commits/s=%.0f | rss=%.1fMB "
                    "fds=%zu\n",
                    t, s.loading, s.active, s.inactive, s.closing, s.leases, s.pending_timers,
                    static_cast<unsigned long long>(s.loads),
                    static_cast<unsigned long long>(s.disposals),
                    static_cast<double>(commits - last_commits)
                        / std::chrono::duration<double>(now - last).count(),
                    mb(rss), fds);
      std::fflush(stdout);
      last = now;
      last_commits = commits;
    }

    // -- every client stops between sessions, releasing what it holds ---------------
    run.stopping = true;
    const bool stopped = wait_until(
        [&] { return run.finished.load(std::memory_order_acquire) == client_count; }, 120s);
    const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    if (!stopped) {
      for (auto& c : clients)
        caf::anon_send_exit(c, caf::exit_reason::kill);
      FAIL("only " << run.finished.load() << " of " << client_count
                   << " clients stopped within 120 s: a reply never came");
    }
    clients.clear();

    client_report total;
    std::vector<tally> acked(store_count);
    std::vector<char> loaded(store_count, 0);
    std::vector<std::string> problems;
    for (const auto& r : run.reports) {
      for (std::size_t i = 0; i < store_count; ++i) {
        acked[i].merge(r.tallies[i]);
        loaded[i] = static_cast<char>(loaded[i] | r.loaded[i]);
      }
      total.sessions += r.sessions;
      total.acquires += r.acquires;
      total.releases += r.releases;
      total.child_acquires += r.child_acquires;
      total.commits += r.commits;
      total.events += r.events;
      total.own_reads += r.own_reads;
      total.preloads += r.preloads;
      total.errors += r.errors;
      problems.insert(problems.end(), r.problems.begin(), r.problems.end());
    }
    std::size_t retained = 0, retained_with_timer = 0;
    for (std::size_t i = 0; i < store_count; ++i)
      if (loaded[i] && gc_of(i) != gc_class::short_gc) {
        ++retained;
        if (gc_of(i) == gc_class::long_gc)
          ++retained_with_timer;
      }
    std::printf("soak: clients: %.1f s, %llu sessions, %llu acquires answered, %llu releases, "
                "%llu leases left to dying children, %llu commits (%.0f/s) of %llu events, "
                "%llu read-your-writes checks, %llu preloads, %llu errors\n",
                elapsed, static_cast<unsigned long long>(total.sessions),
                static_cast<unsigned long long>(total.acquires),
                static_cast<unsigned long long>(total.releases),
                static_cast<unsigned long long>(total.child_acquires),
                static_cast<unsigned long long>(total.commits),
                static_cast<double>(total.commits) / elapsed,
                static_cast<unsigned long long>(total.events),
                static_cast<unsigned long long>(total.own_reads),
                static_cast<unsigned long long>(total.preloads),
                static_cast<unsigned long long>(total.errors));
    for (const auto& p : problems)
      std::printf("soak: problem: %s\n", p.c_str());
    CHECK(total.errors == 0);
    CHECK(total.acquires == total.releases);
    CHECK(total.commits > 0);
    CHECK(total.child_acquires > 0);

    // -- the registry settles: nothing observed, only long-gc stores keep timers -----
    multistore::registry_stats s;
    const bool settled = wait_until(
        [&] {
          s = registry.stats();
          return s.loading == 0 && s.active == 0 && s.closing == 0 && s.waiting == 0
                 && s.leases == 0 && s.inactive == retained
                 && s.pending_timers == retained_with_timer;
        },
        30s);
    print_stats(settled ? "settled" : "NOT settled after 30 s", s);
    std::printf("soak: expected %zu inactive stores (long gc or gc_never), %zu of them with a timer\n",
                retained, retained_with_timer);
    CHECK(settled);
    CHECK(s.leases == 0);
    CHECK(s.waiting == 0);
    CHECK(s.active == 0);
    CHECK(s.loading == 0);
    CHECK(s.closing == 0);
    CHECK(s.inactive == retained);
    CHECK(s.pending_timers == retained_with_timer);
    CHECK(s.load_failures == 0);
    CHECK(s.loads == s.disposals + s.inactive + s.load_failures);

    // Every id agrees with the totals and with its gc class.
    std::uint64_t inspected_loads = 0;
    std::size_t wrong_state = 0;
    for (std::size_t i = 0; i < store_count; ++i) {
      const auto info = registry.inspect(store_name(i));
      inspected_loads += info.loads;
      const bool kept = loaded[i] && gc_of(i) != gc_class::short_gc;
      const bool ok =
          info.observers == 0 && (loaded[i] ? info.loads >= 1 : info.loads == 0)
          && (kept ? info.state == multistore::store_state::inactive
                         && info.gc_remaining.has_value() == (gc_of(i) == gc_class::long_gc)
                         && info.loads == 1
                   : info.state == multistore::store_state::disposed);
      if (!ok && ++wrong_state <= 10)
        std::printf("soak: wrong: %s (%s, %s, %s): state %s, observers %zu, loads %llu\n",
                    store_name(i).c_str(), is_file(i) ? "file" : "memory",
                    gc_of(i) == gc_class::short_gc ? "short gc" : "kept",
                    loaded[i] ? "used" : "never used",
                    std::string{multistore::to_string(info.state)}.c_str(), info.observers,
                    static_cast<unsigned long long>(info.loads));
    }
    std::printf("soak: %zu ids not in the state their use implies; per-id loads sum to %llu\n",
                wrong_state, static_cast<unsigned long long>(inspected_loads));
    CHECK(wrong_state == 0);
    CHECK(inspected_loads == s.loads);

    // Memory stores that were never disposed hold exactly the acknowledged events.
    std::size_t memory_checked = 0;
    std::uint64_t memory_events = 0;
    for (std::size_t i = 0; i < store_count; ++i) {
      if (is_file(i) || !loaded[i] || gc_of(i) == gc_class::short_gc)
        continue;
      const auto found = read_memory_store(registry, i, run.dir, rng);
      INFO(store_name(i) << ": " << acked[i].events << " events acknowledged, " << found.events
                         << " found");
      CHECK(found.events == acked[i].events);
      CHECK(found.without_seq == acked[i].without_seq);
      ++memory_checked;
      memory_events += found.events;
    }
    std::printf("soak: %zu retained memory stores hold exactly their %llu acknowledged events\n",
                memory_checked, static_cast<unsigned long long>(memory_events));

    // -- clear(): no timer, no store, no descriptor left --------------------------------
    const auto fds_before_clear = multistore::open_file_descriptors();
    auto cleared = registry.clear();
    REQUIRE(cleared.wait_for(60s) == std::future_status::ready);
    cleared.get();
    const auto after = registry.stats();
    print_stats("after clear()", after);
    CHECK(after.loading == 0);
    CHECK(after.active == 0);
    CHECK(after.inactive == 0);
    CHECK(after.closing == 0);
    CHECK(after.leases == 0);
    CHECK(after.waiting == 0);
    CHECK(after.pending_timers == 0);
    CHECK(after.loads == after.disposals + after.load_failures);
    // clear() answers once every store actor is down. Under AddressSanitizer a
    // descriptor or two was seen still open just then (in 1 of 2 runs) and
    // gone a moment later: wait up to 2 s for the start level (a leaked
    // descriptor never gets there), then require no more than it (below).
    auto fds_after_clear = multistore::open_file_descriptors();
    for (int i = 0; i < 200 && fds_after_clear > fds_at_start; ++i) {
      std::this_thread::sleep_for(10ms);
      fds_after_clear = multistore::open_file_descriptors();
    }

    // -- every acknowledged file event is in its store, and nothing else -----------------
    std::size_t files_checked = 0;
    std::uint64_t file_events = 0, file_acked = 0;
    std::size_t file_mismatches = 0;
    for (std::size_t i = 0; i < store_count; ++i) {
      if (!is_file(i))
        continue;
      file_acked += acked[i].events;
      const auto path = run.dir / (store_name(i) + ".sqlite");
      if (!fs::exists(path)) {
        if (acked[i].events != 0 && ++file_mismatches <= 5)
          std::printf("soak: wrong: %s: %llu events acknowledged, but no file\n",
                      store_name(i).c_str(), static_cast<unsigned long long>(acked[i].events));
        continue;
      }
      const auto r = read_file_store(i, run.dir);
      ++files_checked;
      file_events += r.found.events;
      if ((!r.problem.empty() || r.found != acked[i] || r.rows != r.found.events)
          && ++file_mismatches <= 5)
        std::printf("soak: wrong: %s: %llu events acknowledged, %llu in the log, %llu rows; "
                    "digests %s %s\n",
                    store_name(i).c_str(), static_cast<unsigned long long>(acked[i].events),
                    static_cast<unsigned long long>(r.found.events),
                    static_cast<unsigned long long>(r.rows),
                    r.found == acked[i] ? "equal" : "differ", r.problem.c_str());
    }
    std::printf("soak: %zu file stores reopened: %llu events in their logs, %llu acknowledged\n",
                files_checked, static_cast<unsigned long long>(file_events),
                static_cast<unsigned long long>(file_acked));
    CHECK(file_mismatches == 0);
    CHECK(file_events == file_acked);
    const auto fds_after_check = multistore::open_file_descriptors();

    // -- memory: the last quarter of the run is not far above the first ---------------
    std::uint64_t first_max = 0, last_max = 0;
    double first_sum = 0, last_sum = 0;
    std::size_t first_n = 0, last_n = 0;
    for (const auto& x : samples) {
      if (x.t < seconds / 4) {
        first_max = std::max(first_max, x.rss);
        first_sum += static_cast<double>(x.rss);
        ++first_n;
      } else if (x.t >= seconds * 3 / 4) {
        last_max = std::max(last_max, x.rss);
        last_sum += static_cast<double>(x.rss);
        ++last_n;
      }
    }
    const auto bound = static_cast<std::uint64_t>(1.5 * static_cast<double>(first_max)) + 20'000'000;
    std::printf("soak: RSS at start %.1f MB; first quarter mean %.1f max %.1f MB; last quarter "
                "mean %.1f max %.1f MB (bound %.1f MB); after clear %.1f MB\n",
                mb(rss_at_start), first_n ? first_sum / static_cast<double>(first_n) / 1e6 : 0.0,
                mb(first_max), last_n ? last_sum / static_cast<double>(last_n) / 1e6 : 0.0,
                mb(last_max), mb(bound), mb(multistore::resident_bytes()));
    std::printf("soak: fds: before the actor system %zu, at start %zu, peak %zu, before clear() "
                "%zu, after clear() %zu, after the file check %zu\n",
                fds_before_system, fds_at_start, peak_fds, fds_before_clear, fds_after_clear,
                fds_after_check);
    std::fflush(stdout);
    REQUIRE(first_n > 0);
    REQUIRE(last_n > 0);
    if (rss_bound_applies)
      CHECK(last_max <= bound);
    else
      std::printf("soak: RSS bound not checked under AddressSanitizer (its quarantine keeps "
                  "freed memory)\n");
    // No more than at start: a descriptor open just then (one was seen, one
    // run in many) may be closed by now; a store's file left open is one more.
    CHECK(fds_after_clear <= fds_at_start);
    CHECK(fds_after_check <= fds_at_start);
  }
  CHECK(multistore::open_file_descriptors() == fds_before_system);
}
