// tenant_sim — the main job: a multi-tenant backend simulated on multistore.
//
// W workspaces, each a workspace store (gc_never) listing up to I issue
// stores (short gc_time). C client actors repeatedly pick a workspace and an
// issue with Zipf-like popularity, acquire both stores through the registry,
// commit events, run a query, preload a few "recent" issues and release.
// Every acknowledged commit is written to a ledger; at the end every store is
// reopened and must hold exactly the acknowledged events.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <multistore/actor_api.hpp>
#include <multistore/devtools.hpp>
#include <multistore/multistore.hpp>

#include "schemas.hpp"
#include "virtual_sim.hpp"
#include "virtual_sweep.hpp"
#include "zipf.hpp"

using namespace std::chrono_literals;
using namespace tenant_sim;
using clock_type = std::chrono::steady_clock;

namespace {

struct config {
  double duration_s = 30;
  int workspaces = 8;
  int issues = 300;
  int clients = 16;
  int io_threads = 0;  ///< registry_options::io_threads (0: the default)
  std::int64_t gc_ms = 300;
  std::uint64_t seed = 42;
  bool memory = false;
  std::filesystem::path data = "tenant-data";
  std::string json;
  bool keep = false;
  int devtools_port = -1;  ///< -1: no devtools; 0: any free port
  std::string metrics_file;
  // Cluster mode: this process is one node.
  std::string cluster_file;
  std::string node;
  std::string ledger_file;  ///< appends "store_id seq" for every acknowledged commit
  double linger_s = 0;      ///< keeps serving other nodes after its own clients stopped
  std::string verify_root;  ///< --verify-cluster: checks every node's ledger against the owners
  // --virtual: the model on the fixture's virtual clock.
  std::string virtual_duration;
  double rate = 50;
  std::int64_t interval_ms = 0;
  std::int64_t cold_load_us = 3000;
  std::int64_t reload_us = 700;
  std::size_t max_open = 0;
  int session_requests = 4;
  std::int64_t think_ms = 2000;
  double write_share = 0.2;
  double list_share = 0.2;
  bool virtual_files = false;  ///< --virtual with --data: SQLite files
  std::string sweep_gc;
  std::string sweep_limit;
  std::string chart;
};

/// What the clients saw, shared between them (CAF threads) and the main thread.
struct ledger {
  std::mutex mtx;
  std::unordered_map<std::string, std::vector<std::uint64_t>> acked;  // store id -> seqs
  std::vector<std::uint32_t> latency_us;         // acquire latency, whole run
  std::vector<std::uint32_t> window_latency_us;  // since the last status line
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> iterations{0};
  std::vector<std::uint32_t> remote_latency_us;  // cluster: acquires of remotely owned issues
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> unavailable{0};  // cluster: calls whose owner was down
  std::atomic<bool> stopping{false};
  std::FILE* ledger_out = nullptr;  // cluster: every ack, written at once (survives SIGKILL)

  void ack(const std::string& store_id, std::uint64_t seq) {
    std::lock_guard guard{mtx};
    acked[store_id].push_back(seq);
    commits.fetch_add(1, std::memory_order_relaxed);
    if (ledger_out != nullptr) {
      std::fprintf(ledger_out, "%s %llu\n", store_id.c_str(), static_cast<unsigned long long>(seq));
      std::fflush(ledger_out);
    }
  }
  void failed(multistore::errc code) {
    if (code == multistore::errc::unavailable)
      unavailable.fetch_add(1, std::memory_order_relaxed);
    else
      errors.fetch_add(1, std::memory_order_relaxed);
  }
  void latency(clock_type::duration d, bool remote) {
    auto us = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    std::lock_guard guard{mtx};
    (remote ? remote_latency_us : latency_us).push_back(us);
    window_latency_us.push_back(us);
  }
};

std::string workspace_id(int w) {
  return "workspace-" + std::to_string(w);
}

std::string issue_id(int w, int i) {
  return "ws" + std::to_string(w) + "-issue-" + std::to_string(i);
}

multistore::adapter storage_of(const config& cfg) {
  if (cfg.memory)
    return multistore::memory_adapter{};
  // In a cluster the directory is a path on the owner: "." is each owner's
  // own data directory (every node runs in its --data directory).
  if (!cfg.node.empty())
    return multistore::sqlite_adapter{"."};
  return multistore::sqlite_adapter{cfg.data};
}

multistore::store_options<workspace_schema> workspace_options(const config& cfg, int w) {
  return {.store_id = workspace_id(w), .storage = storage_of(cfg), .gc_time = multistore::gc_never};
}

multistore::store_options<issue_schema> issue_options(const config& cfg, int w, int i) {
  return {.store_id = issue_id(w, i),
          .storage = storage_of(cfg),
          .gc_time = multistore::gc_duration{cfg.gc_ms}};
}

// -- the client actor --------------------------------------------------------

using next_atom = caf::atom_constant<caf::atom("next")>;

struct client_state {
  const config* cfg = nullptr;
  ledger* book = nullptr;
  caf::actor registry;
  std::mt19937_64 rng;
  const zipf* pick_workspace = nullptr;
  const zipf* pick_issue = nullptr;
  const multistore::store_registry* reg = nullptr;
  /// Cluster: whether another node owns `id`.
  bool remote_owner(const std::string& id) const {
    return !cfg->node.empty() && reg->owner_of(id) != cfg->node;
  }
  static inline const char* name = "tenant_sim.client";
};

using client_actor = caf::stateful_actor<client_state>;

template <class Schema>
void commit_one(client_actor* self, const multistore::acquired_store<Schema>& s,
                std::vector<multistore::wire_event> events, std::function<void()> then) {
  auto& st = self->state;
  self->request(s.store, caf::infinite, multistore::commit_atom::value, std::move(events))
      .then(
          [self, id = s.store_id, then](std::uint64_t seq) {
            self->state.book->ack(id, seq);
            then();
          },
          [book = st.book, then](caf::error& err) {
            book->failed(multistore::to_error(err).code);
            then();
          });
}

void iterate(client_actor* self);

void finish(client_actor* self, const multistore::acquired_store<workspace_schema>& ws,
            const multistore::acquired_store<issue_schema>& issue) {
  auto& st = self->state;
  multistore::release_store(self, st.registry, issue);
  multistore::release_store(self, st.registry, ws);
  st.book->iterations.fetch_add(1, std::memory_order_relaxed);
  self->send(self, next_atom::value);
}

void work(client_actor* self, multistore::acquired_store<workspace_schema> ws,
          multistore::acquired_store<issue_schema> issue, int w) {
  self->request(issue.store, caf::infinite, multistore::query_atom::value,
                std::string{"SELECT count(*) AS n FROM issue"}, std::string{})
      .then(
          [self, ws, issue, w](const std::string& rows) {
            auto& st = self->state;
            auto exists = nlohmann::json::parse(rows)[0]["n"].get<int>() > 0;
            auto after = [self, ws, issue, w] {
              auto& cs = self->state;
              // The query every page view runs, then preload two "recent" issues.
              self->request(issue.store, caf::infinite, multistore::query_atom::value,
                            std::string{"SELECT count(*) AS n FROM comments"}, std::string{})
                  .then([](const std::string&) {}, [](caf::error&) {});
              for (int k = 0; k < 2; ++k) {
                auto recent = (*cs.pick_issue)(cs.rng);
                self->request(cs.registry, caf::infinite, multistore::preload_atom::value,
                              multistore::make_store_request(issue_options(*cs.cfg, w, recent)))
                    .then([](caf::ok_atom) {}, [](caf::error&) {});
              }
              finish(self, ws, issue);
            };
            if (!exists) {
              commit_one(self, issue,
                         issue.events(issue_created{"Issue " + issue.store_id}),
                         [self, ws, issue, after] {
                           commit_one(self, ws,
                                      ws.events(issue_registered{issue.store_id, "Issue"}),
                                      after);
                         });
            } else if (std::uniform_int_distribution<int>{0, 3}(st.rng) == 0) {
              static const char* statuses[] = {"open", "in_progress", "done"};
              commit_one(self, issue,
                         issue.events(status_changed{
                             statuses[std::uniform_int_distribution<int>{0, 2}(st.rng)]}),
                         after);
            } else {
              commit_one(self, issue,
                         issue.events(comment_added{"client-" + std::to_string(self->id()),
                                                    "looks reproducible"}),
                         after);
            }
          },
          [self, ws, issue](caf::error& err) {
            self->state.book->failed(multistore::to_error(err).code);
            finish(self, ws, issue);
          });
}

void iterate(client_actor* self) {
  auto& st = self->state;
  if (st.book->stopping.load(std::memory_order_relaxed)) {
    self->quit();
    return;
  }
  auto w = (*st.pick_workspace)(st.rng);
  auto i = (*st.pick_issue)(st.rng);
  auto t0 = clock_type::now();
  auto on_error = [self](const multistore::error& err) {
    self->state.book->failed(err.code);
    // An owner that is down answers at once: do not spin on it.
    if (err.code == multistore::errc::unavailable)
      self->delayed_send(self, 20ms, next_atom::value);
    else
      self->send(self, next_atom::value);
  };
  multistore::acquire_store(
      self, st.registry, workspace_options(*st.cfg, w),
      [self, w, i, t0, on_error](multistore::acquired_store<workspace_schema> ws) {
        multistore::acquire_store(
            self, self->state.registry, issue_options(*self->state.cfg, w, i),
            [self, ws, w, t0](multistore::acquired_store<issue_schema> issue) {
              self->state.book->latency(clock_type::now() - t0,
                                        self->state.remote_owner(issue.store_id));
              work(self, ws, std::move(issue), w);
            },
            [self, ws, on_error](const multistore::error& err) {
              multistore::release_store(self, self->state.registry, ws);
              on_error(err);
            });
      },
      on_error);
}

caf::behavior client(client_actor* self, const config* cfg, ledger* book,
                     const multistore::store_registry* reg, const zipf* pick_workspace,
                     const zipf* pick_issue, std::uint64_t seed) {
  auto& st = self->state;
  st.cfg = cfg;
  st.book = book;
  st.reg = reg;
  st.registry = reg->actor();
  st.rng.seed(seed);
  st.pick_workspace = pick_workspace;
  st.pick_issue = pick_issue;
  self->send(self, next_atom::value);
  return {[self](next_atom) { iterate(self); }};
}

// -- measurements ------------------------------------------------------------

std::uint32_t percentile(std::vector<std::uint32_t> v, double p) {
  if (v.empty())
    return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// -- verification ------------------------------------------------------------

struct verification {
  std::size_t stores = 0;
  std::size_t events = 0;
  std::vector<std::string> problems;
};

/// The sequence numbers in store `id`'s log, reopened from `storage`; on
/// failure, nullopt and a problem in `out`.
template <class Schema>
std::optional<std::vector<std::uint64_t>> stored_seqs(const std::string& id,
                                                      const multistore::sqlite_adapter& storage,
                                                      verification& out) {
  auto engine = multistore::store_engine::open(multistore::schema_of<Schema>(), id, storage,
                                               multistore::store_identity{"verify", "verify"});
  if (!engine) {
    out.problems.push_back(id + ": cannot reopen from " + storage.directory.string() + ": "
                           + engine.error().message);
    return std::nullopt;
  }
  auto events = (*engine)->read_events();
  (*engine)->close();
  if (!events) {
    out.problems.push_back(id + ": cannot read the log: " + events.error().message);
    return std::nullopt;
  }
  std::vector<std::uint64_t> stored;
  for (const auto& e : *events)
    stored.push_back(e.seq);
  return stored;
}

template <class Schema>
void verify_store(const std::string& id, const multistore::sqlite_adapter& storage,
                  std::vector<std::uint64_t> acked, verification& out) {
  auto seqs = stored_seqs<Schema>(id, storage, out);
  if (!seqs)
    return;
  auto& stored = *seqs;
  std::sort(acked.begin(), acked.end());
  ++out.stores;
  out.events += stored.size();
  if (stored != acked)
    out.problems.push_back(id + ": " + std::to_string(acked.size()) + " events acknowledged, "
                           + std::to_string(stored.size()) + " stored");
}

/// --verify-cluster: every node's ledger against the stores on their owners.
/// Every acknowledged commit must be in its store's log exactly once (no
/// sequence number acknowledged twice, none missing); events in a log that
/// no ledger holds are commits whose answer was lost with a node (they may or
/// may not have been committed) and are counted, not refused.
int verify_cluster(const multistore::cluster_options& cluster, const std::filesystem::path& root) {
  std::unordered_map<std::string, std::vector<std::uint64_t>> acked;
  std::printf("verify: cluster %s, %zu members, data under %s\n", cluster.name.c_str(),
              cluster.members.size(), root.c_str());
  for (const auto& m : cluster.members) {
    std::ifstream in{root / (m.name + ".ledger")};
    std::string id;
    std::uint64_t seq = 0;
    std::size_t n = 0;
    while (in >> id >> seq) {
      acked[id].push_back(seq);
      ++n;
    }
    std::printf("  node %-8s commits acknowledged to its clients: %zu\n", m.name.c_str(), n);
  }
  std::unordered_map<std::string, verification> by_owner;
  std::size_t duplicates = 0, extra = 0;
  for (auto& [id, seqs] : acked) {
    std::sort(seqs.begin(), seqs.end());
    auto dup = std::adjacent_find(seqs.begin(), seqs.end());
    if (dup != seqs.end()) {
      ++duplicates;
      by_owner["?"].problems.push_back(id + ": sequence " + std::to_string(*dup)
                                       + " acknowledged twice");
    }
    const auto& owner = multistore::owner_of(id, cluster.members);
    auto& v = by_owner[owner];
    multistore::sqlite_adapter storage{root / owner};
    auto engine_check = [&]<class Schema>(Schema*) {
      auto log = stored_seqs<Schema>(id, storage, v);
      if (!log)
        return;
      auto& stored = *log;
      ++v.stores;
      v.events += stored.size();
      std::vector<std::uint64_t> missing;
      std::set_difference(seqs.begin(), seqs.end(), stored.begin(), stored.end(),
                          std::back_inserter(missing));
      if (!missing.empty())
        v.problems.push_back(id + ": " + std::to_string(missing.size())
                             + " acknowledged events missing on " + owner);
      if (stored.size() + missing.size() > seqs.size())
        extra += stored.size() + missing.size() - seqs.size();
    };
    if (id.rfind("workspace-", 0) == 0)
      engine_check(static_cast<workspace_schema*>(nullptr));
    else
      engine_check(static_cast<issue_schema*>(nullptr));
  }
  std::size_t problems = 0;
  for (const auto& m : cluster.members) {
    auto& v = by_owner[m.name];
    std::printf("  owner %-8s stores checked: %zu, events in their logs: %zu\n", m.name.c_str(),
                v.stores, v.events);
  }
  for (auto& [owner, v] : by_owner)
    for (const auto& p : v.problems) {
      std::printf("verification FAILED: %s\n", p.c_str());
      ++problems;
    }
  std::printf("verify: %zu events in logs that no ledger holds (commits whose answer was lost "
              "with a node: they may or may not be committed)\n",
              extra);
  if (problems == 0 && duplicates == 0)
    std::printf("verification: every acknowledged event is present exactly once on its owner\n");
  return problems == 0 ? 0 : 1;
}

}  // namespace

namespace {

void print_figures_header(const char* first) {
  std::printf("%-8s %9s %9s %7s %7s %8s %8s %8s %7s %10s %8s %8s %9s %9s\n", first, "sessions",
              "requests", "cold", "reload", "disposed", "evicted", "refused", "waited", "wait ms",
              "open max", "open avg", "est fds", "est MiB");
}

void print_figures(const std::string& name, const virtual_figures& f, const virtual_model& m) {
  std::printf("%-8s %9llu %9llu %7llu %7llu %8llu %8llu %8llu %7llu %10.1f %8zu %8.1f %9zu %9.1f\n",
              name.c_str(), static_cast<unsigned long long>(f.sessions),
              static_cast<unsigned long long>(f.requests), static_cast<unsigned long long>(f.cold_loads),
              static_cast<unsigned long long>(f.reloads), static_cast<unsigned long long>(f.disposals),
              static_cast<unsigned long long>(f.evictions), static_cast<unsigned long long>(f.refused),
              static_cast<unsigned long long>(f.waited), static_cast<double>(f.wait_us) / 1000.0,
              f.open_peak, f.open_mean, f.open_peak * static_cast<std::size_t>(m.store_fds()),
              static_cast<double>(f.open_peak) * m.store_kib() / 1024.0);
}

}  // namespace

/// tenant_sim --virtual: runs the model (once, or once per swept value),
/// prints a line per virtual hour and the total (or one line per value),
/// and writes the deterministic report (plus a separate "wall" section)
/// with --json and the chart with --chart.
int run_virtual_cli(const config& cfg) {
  auto duration = parse_duration(cfg.virtual_duration);
  if (!duration) {
    std::fprintf(stderr, "tenant_sim: --virtual takes a duration such as 90s, 30m, 24h or 2d, not '%s'\n",
                 cfg.virtual_duration.c_str());
    return 2;
  }
  if (!cfg.sweep_gc.empty() && !cfg.sweep_limit.empty()) {
    std::fprintf(stderr, "tenant_sim: sweep one parameter at a time: --sweep-gc or --sweep-limit\n");
    return 2;
  }
  virtual_model m;
  m.duration = *duration;
  m.tenants = cfg.workspaces;
  m.issues = cfg.issues;
  m.mean_rate = cfg.rate;
  m.fixed_interval = std::chrono::milliseconds{cfg.interval_ms};
  m.session_requests = cfg.session_requests;
  m.think_time = std::chrono::milliseconds{cfg.think_ms};
  m.write_share = cfg.write_share;
  m.list_share = cfg.list_share;
  m.gc_time = std::chrono::milliseconds{cfg.gc_ms};
  m.max_open_stores = cfg.max_open;
  m.cold_load_cost = std::chrono::microseconds{cfg.cold_load_us};
  m.reload_cost = std::chrono::microseconds{cfg.reload_us};
  m.seed = cfg.seed;
  if (cfg.virtual_files)
    m.data = cfg.data;

  sweep s{.parameter = "", .values = {"gc " + std::to_string(cfg.gc_ms) + " ms"}, .models = {m}};
  if (!cfg.sweep_gc.empty() || !cfg.sweep_limit.empty()) {
    auto swept = cfg.sweep_gc.empty() ? sweep_limit(cfg.sweep_limit, m) : sweep_gc(cfg.sweep_gc, m);
    if (!swept) {
      std::fprintf(stderr, "tenant_sim: %s\n", swept.error().c_str());
      return 2;
    }
    s = std::move(*swept);
  }

  std::vector<sweep_run> runs;
  double wall_s = 0;
  for (std::size_t i = 0; i < s.models.size(); ++i) {
    if (!s.models[i].data.empty() && !cfg.keep) {
      std::error_code ec;
      std::filesystem::remove_all(s.models[i].data, ec);  // each run starts from empty files
    }
    auto wall_start = clock_type::now();
    runs.push_back({.value = s.values[i], .report = run_virtual(s.models[i])});
    wall_s += std::chrono::duration<double>(clock_type::now() - wall_start).count();
    if (s.parameter.empty()) {
      print_figures_header("hour");
      const auto& r = runs.back().report;
      for (std::size_t h = 0; h < r.hours.size(); ++h)
        print_figures(std::to_string(h), r.hours[h], r.model);
      print_figures("all", r.total, r.model);
    }
  }
  if (!s.parameter.empty()) {
    std::printf("sweep of %s over the same traffic (%s virtual, seed %llu):\n", s.parameter.c_str(),
                cfg.virtual_duration.c_str(), static_cast<unsigned long long>(m.seed));
    print_figures_header(s.parameter == "gc_time" ? "gc_time" : "limit");
    for (const auto& r : runs)
      print_figures(r.value, r.report.total, r.report.model);
  }
  double virtual_s = std::chrono::duration<double>(m.duration).count() * static_cast<double>(runs.size());
  std::printf("virtual: %.0f s simulated in %.2f s of wall time (%.0fx)\n", virtual_s, wall_s,
              virtual_s / wall_s);
  if (!cfg.chart.empty()) {
    std::ofstream out{cfg.chart};
    out << svg_chart(s.parameter, runs);
    if (!out) {
      std::fprintf(stderr, "tenant_sim: cannot write the chart to %s\n", cfg.chart.c_str());
      return 1;
    }
    std::printf("chart: %s\n", cfg.chart.c_str());
  }
  if (!cfg.json.empty()) {
    auto out = s.parameter.empty() ? runs.front().report.to_json() : sweep_json(s, runs);
    // Left out of comparisons: the only figures that differ between two runs.
    out["wall"] = {{"seconds", wall_s},
                   {"speedup", virtual_s / wall_s},
                   {"resident_bytes_at_end", multistore::resident_bytes()},
                   {"open_file_descriptors_at_end", multistore::open_file_descriptors()}};
    std::ofstream{cfg.json} << out.dump(2) << '\n';
  }
  return 0;
}

int main(int argc, char** argv) {
  config cfg;
  CLI::App app{"tenant_sim: a multi-tenant backend on multistore"};
  app.add_option("--duration", cfg.duration_s, "seconds to run")->check(CLI::PositiveNumber);
  app.add_option("-W,--workspaces", cfg.workspaces, "workspaces")->check(CLI::Range(1, 100000));
  app.add_option("-I,--issues", cfg.issues, "issue stores per workspace")
      ->check(CLI::Range(1, 1000000));
  app.add_option("-C,--clients", cfg.clients, "concurrent client actors")
      ->check(CLI::Range(1, 10000));
  app.add_option("--gc-ms", cfg.gc_ms, "gc_time of issue stores, ms")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", cfg.seed, "random seed");
  app.add_option("--io-threads", cfg.io_threads, "threads for the stores' SQLite work (0: default)")
      ->check(CLI::Range(0, 256));
  app.add_flag("--memory", cfg.memory, "memory stores instead of SQLite files");
  app.add_option("--data", cfg.data, "directory for the SQLite files");
  app.add_option("--json", cfg.json, "write a JSON report to this file");
  app.add_option("--devtools", cfg.devtools_port,
                 "serve the devtools page on 127.0.0.1:PORT while running (0: any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--metrics", cfg.metrics_file, "write the registry's final metrics (Prometheus text) here");
  app.add_flag("--keep", cfg.keep, "keep the data directory's old files (default: start empty)");
  auto* cluster_opt = app.add_option("--cluster", cfg.cluster_file,
                                     "cluster file: run as one node of that cluster");
  app.add_option("--node", cfg.node, "this node's name in the cluster file")->needs(cluster_opt);
  cluster_opt->needs(app.get_option("--node"));
  app.add_option("--ledger", cfg.ledger_file,
                 "append 'store_id seq' for every acknowledged commit to this file");
  app.add_option("--linger", cfg.linger_s,
                 "seconds to keep serving other nodes after this node's clients stopped")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--verify-cluster", cfg.verify_root,
                 "check DIR/<node>.ledger of every node of --cluster against the stores on "
                 "their owners (DIR/<node>/), then exit")
      ->needs(cluster_opt);
  app.add_option("--virtual", cfg.virtual_duration,
                 "simulate this much virtual time (90s, 30m, 24h, 2d) on the deterministic "
                 "fixture instead of running in real time (memory stores; --data DIR for files)");
  app.add_option("--rate", cfg.rate, "--virtual: mean requests per virtual second")
      ->check(CLI::PositiveNumber);
  app.add_option("--interval-ms", cfg.interval_ms,
                 "--virtual: one request every this often instead of Poisson arrivals")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cold-load-us", cfg.cold_load_us, "--virtual: cost of a first load, µs")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reload-us", cfg.reload_us, "--virtual: cost of a load after GC, µs")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-open", cfg.max_open, "--virtual: max_open_stores (0: the default)");
  app.add_option("--session-requests", cfg.session_requests,
                 "--virtual: requests per client session (it holds its two stores between them)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--think-ms", cfg.think_ms, "--virtual: mean think time between a session's requests, ms")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--write-share", cfg.write_share, "--virtual: share of requests that commit a comment")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--list-share", cfg.list_share,
                 "--virtual: share of the reading requests that list the workspace")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--sweep-gc", cfg.sweep_gc,
                 "--virtual: run the same traffic once per gc_time (e.g. 1s,10s,60s,5m) and compare");
  app.add_option("--sweep-limit", cfg.sweep_limit,
                 "--virtual: run the same traffic once per max_open_stores (e.g. 500,2000) and compare");
  app.add_option("--chart", cfg.chart,
                 "--virtual: write an SVG chart of open stores and load waits over virtual time");
  CLI11_PARSE(app, argc, argv);
  if (!cfg.virtual_duration.empty()) {
    cfg.virtual_files = app.count("--data") > 0;
    return run_virtual_cli(cfg);
  }
  for (const char* flag : {"--sweep-gc", "--sweep-limit", "--chart", "--rate", "--session-requests"})
    if (app.count(flag) > 0) {
      std::fprintf(stderr, "tenant_sim: %s needs --virtual DURATION\n", flag);
      return 2;
    }
  std::optional<multistore::cluster_options> cluster;
  if (!cfg.cluster_file.empty()) {
    auto read = multistore::read_cluster_file(cfg.cluster_file, cfg.node);
    if (!read) {
      std::fprintf(stderr, "tenant_sim: %s\n", read.error().message.c_str());
      return 2;
    }
    cluster = std::move(*read);
    if (cfg.memory) {
      std::fprintf(stderr, "tenant_sim: a cluster run uses SQLite files (--data), not --memory\n");
      return 2;
    }
  }
  if (!cfg.verify_root.empty())
    return verify_cluster(*cluster, cfg.verify_root);

  if (!cfg.memory && !cfg.keep) {
    std::error_code ec;
    std::filesystem::remove_all(cfg.data, ec);
  }
  if (cluster) {  // the node's stores live in its data directory: run there
    for (auto* path : {&cfg.ledger_file, &cfg.json})
      if (!path->empty())
        *path = std::filesystem::absolute(*path).string();
    std::filesystem::create_directories(cfg.data);
    std::filesystem::current_path(cfg.data);
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  if (cluster)
    std::printf("tenant_sim: node %s of cluster %s (%zu members)\n", cfg.node.c_str(),
                cluster->name.c_str(), cluster->members.size());
  std::printf("tenant_sim: %d workspaces x %d issues, %d clients, gc %lld ms, %s, %.0f s, seed %llu\n",
              cfg.workspaces, cfg.issues, cfg.clients, static_cast<long long>(cfg.gc_ms),
              cfg.memory ? "memory stores" : ("SQLite files in " + cfg.data.string()).c_str(),
              cfg.duration_s, static_cast<unsigned long long>(cfg.seed));
  const auto fds_at_start = multistore::open_file_descriptors();

  ledger book;
  if (!cfg.ledger_file.empty()) {
    book.ledger_out = std::fopen(cfg.ledger_file.c_str(), "a");
    if (book.ledger_out == nullptr) {
      std::fprintf(stderr, "tenant_sim: cannot open the ledger %s\n", cfg.ledger_file.c_str());
      return 2;
    }
  }
  zipf pick_workspace{cfg.workspaces, 1.1};
  zipf pick_issue{cfg.issues, 1.1};
  multistore::registry_stats final_stats;
  std::uint64_t peak_rss = 0;
  double elapsed_s = 0;
  {
    caf::actor_system_config caf_cfg;
    if (cluster)
      multistore::configure(caf_cfg, *cluster);
    else
      multistore::configure(caf_cfg);
    caf::actor_system sys{caf_cfg};
    // Alone: quiet. In a cluster: links going down and up are worth seeing.
    auto log = std::make_shared<spdlog::logger>(
        "multistore", std::make_shared<spdlog::sinks::null_sink_mt>());
    if (cluster) {
      log = std::make_shared<spdlog::logger>(
          "multistore", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      log->set_level(spdlog::level::warn);
    }
    multistore::register_schema<workspace_schema>();
    multistore::register_schema<issue_schema>();
    multistore::registry_options ro;
    ro.io_threads = static_cast<std::size_t>(cfg.io_threads);
    ro.cluster = cluster;
    multistore::store_registry registry{sys, ro, log};
    std::unique_ptr<multistore::devtools_server> devtools;
    if (cfg.devtools_port >= 0) {
      devtools = std::make_unique<multistore::devtools_server>(
          registry, multistore::devtools_options{.port = static_cast<std::uint16_t>(cfg.devtools_port)});
      std::printf("tenant_sim: devtools at %s\n", devtools->url().c_str());
      std::fflush(stdout);
    }
    if (cluster) {  // wait up to 5 s for the other members, then start anyway
      auto deadline = clock_type::now() + 5s;
      auto all_up = [&] {
        for (const auto& m : registry.members())
          if (!m.up)
            return false;
        return true;
      };
      while (!all_up() && clock_type::now() < deadline)
        std::this_thread::sleep_for(50ms);
    }

    std::vector<caf::actor> clients;
    for (int c = 0; c < cfg.clients; ++c)
      clients.push_back(sys.spawn(client, &cfg, &book, &registry, &pick_workspace,
                                  &pick_issue, cfg.seed * 1000003 + static_cast<std::uint64_t>(c)));

    auto start = clock_type::now();
    auto end = start + std::chrono::duration_cast<clock_type::duration>(
                           std::chrono::duration<double>{cfg.duration_s});
    std::uint64_t last_commits = 0;
    auto last = start;
    while (clock_type::now() < end) {
      std::this_thread::sleep_until(std::min(end, last + 1s));
      auto now = clock_type::now();
      auto s = registry.stats();
      std::vector<std::uint32_t> window;
      {
        std::lock_guard guard{book.mtx};
        window.swap(book.window_latency_us);
      }
      auto commits = book.commits.load();
      auto rate = static_cast<double>(commits - last_commits)
                  / std::chrono::duration<double>(now - last).count();
      auto rss = multistore::resident_bytes();
      peak_rss = std::max(peak_rss, rss);
      std::printf("%s[%5.1fs] stores loading=%zu active=%zu inactive=%zu | loads=%llu "
                  "disposals=%llu | commits/s=%.0f | acquire p50=%uus p99=%uus | rss=%.1fMB "
                  "fds=%zu%s",
                  tty ? "\r\033[K" : "", std::chrono::duration<double>(now - start).count(),
                  s.loading, s.active, s.inactive, static_cast<unsigned long long>(s.loads),
                  static_cast<unsigned long long>(s.disposals), rate, percentile(window, 0.5),
                  percentile(window, 0.99), static_cast<double>(rss) / 1e6, multistore::open_file_descriptors(),
                  tty ? "" : "\n");
      std::fflush(stdout);
      last = now;
      last_commits = commits;
    }
    if (tty)
      std::printf("\n");
    book.stopping = true;
    if (cluster)
      std::fprintf(stderr, "tenant_sim: clients stopping\n");
    {
      caf::scoped_actor self{sys};
      for (auto& c : clients)
        self->wait_for(c);
    }
    if (cluster)
      std::fprintf(stderr, "tenant_sim: clients stopped\n");
    elapsed_s = std::chrono::duration<double>(clock_type::now() - start).count();
    if (cfg.linger_s > 0)  // other nodes' clients may still use the stores this one owns
      std::this_thread::sleep_for(std::chrono::duration<double>{cfg.linger_s});
    final_stats = registry.stats();
    if (!cfg.metrics_file.empty()) {
      std::ofstream metrics_out{cfg.metrics_file};
      metrics_out << registry.metrics();
      if (!metrics_out)
        std::fprintf(stderr, "tenant_sim: cannot write the metrics to %s\n", cfg.metrics_file.c_str());
    }
    devtools.reset();  // before the registry
    registry.clear().get();
  }
  if (book.ledger_out != nullptr)
    std::fclose(book.ledger_out);

  std::vector<std::uint32_t> all;
  {
    std::lock_guard guard{book.mtx};
    all = book.latency_us;
  }
  auto p50 = percentile(all, 0.5), p99 = percentile(all, 0.99);
  std::printf("\nsummary\n");
  std::printf("  %-22s %10.1f s\n", "run time", elapsed_s);
  std::printf("  %-22s %10llu\n", "iterations", static_cast<unsigned long long>(book.iterations.load()));
  std::printf("  %-22s %10llu (%.0f/s)\n", "commits acknowledged",
              static_cast<unsigned long long>(book.commits.load()),
              static_cast<double>(book.commits.load()) / elapsed_s);
  std::printf("  %-22s %10llu\n", "errors", static_cast<unsigned long long>(book.errors.load()));
  std::printf("  %-22s %10llu\n", "store loads", static_cast<unsigned long long>(final_stats.loads));
  std::printf("  %-22s %10llu\n", "store disposals",
              static_cast<unsigned long long>(final_stats.disposals));
  std::printf("  %-22s %10llu\n", "load failures",
              static_cast<unsigned long long>(final_stats.load_failures));
  std::vector<std::uint32_t> remote;
  {
    std::lock_guard guard{book.mtx};
    remote = book.remote_latency_us;
  }
  if (cluster) {
    std::printf("  %-22s %10llu\n", "unavailable (owner down)",
                static_cast<unsigned long long>(book.unavailable.load()));
    std::printf("  %-22s %7u us / %u us (%zu)\n", "acquire local p50/p99", p50, p99, all.size());
    std::printf("  %-22s %7u us / %u us (%zu)\n", "acquire remote p50/p99",
                percentile(remote, 0.5), percentile(remote, 0.99), remote.size());
  } else {
    std::printf("  %-22s %7u us / %u us\n", "acquire p50 / p99", p50, p99);
  }
  std::printf("  %-22s %10.1f MB\n", "peak RSS", static_cast<double>(peak_rss) / 1e6);
  std::printf("  %-22s %10zu (at start %zu)\n", "open fds after", multistore::open_file_descriptors(), fds_at_start);

  verification v;
  if (cluster) {
    std::printf("verification: across the cluster, by --verify-cluster once every node is done\n");
  } else if (cfg.memory) {
    std::printf("verification: skipped (memory stores are gone once disposed)\n");
  } else {
    multistore::sqlite_adapter storage{cfg.data};
    for (auto& [id, seqs] : book.acked) {
      if (id.rfind("workspace-", 0) == 0)
        verify_store<workspace_schema>(id, storage, seqs, v);
      else
        verify_store<issue_schema>(id, storage, seqs, v);
    }
    for (const auto& p : v.problems)
      std::printf("verification FAILED: %s\n", p.c_str());
    if (v.problems.empty())
      std::printf("verification: %zu stores reopened, %zu events checked, all acknowledged "
                  "events present, nothing extra\n",
                  v.stores, v.events);
  }

  if (!cfg.json.empty()) {
    nlohmann::json report{
        {"config",
         {{"duration_s", cfg.duration_s}, {"workspaces", cfg.workspaces}, {"issues", cfg.issues},
          {"clients", cfg.clients}, {"gc_ms", cfg.gc_ms}, {"seed", cfg.seed},
          {"storage", cfg.memory ? "memory" : "sqlite"}}},
        {"run_time_s", elapsed_s},
        {"iterations", book.iterations.load()},
        {"commits", book.commits.load()},
        {"errors", book.errors.load()},
        {"unavailable", book.unavailable.load()},
        {"loads", final_stats.loads},
        {"disposals", final_stats.disposals},
        {"load_failures", final_stats.load_failures},
        {"acquire_us", {{"p50", p50}, {"p99", p99}}},
        {"peak_rss_bytes", peak_rss},
        {"verification",
         {{"checked", !cfg.memory}, {"stores", v.stores}, {"events", v.events},
          {"problems", v.problems}}}};
    std::ofstream{cfg.json} << report.dump(2) << '\n';
  }
  // In a cluster, calls to a node that was down fail with `unavailable`: counted, not an error.
  return v.problems.empty() && book.errors.load() == 0 ? 0 : 1;
}
