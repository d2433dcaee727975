// Cluster benchmarks: multistore's remote calls against raw CAF remote
// request/response measured in the same run, over the io middleman on
// 127.0.0.1. Never a unit test.
//
//   multistore_cluster_bench [--json FILE] [--rounds N] [--ops N]
//
// The binary forks itself before any actor system exists: the child is the
// node "server", which owns the measured stores and publishes an echo actor
// (on a port of its choosing, which it writes to the parent through a pipe);
// the parent is the node "client", which runs every measure and prints the
// table of ratio_table.hpp (--json FILE writes it as JSON). The child ends
// when the pipe from the parent closes (the parent ended or died) and,
// whatever happens, 120 s after it started; the parent ends after 110 s.
//
// Rows with a bar: a cached use()+release of a store the server owns (a
// holder handle keeps it loaded and observed), from a blocking thread,
// against a raw scoped_actor request/response to the remote echo actor
// carrying a string as long as the serialized store_request; a one-event
// commit through a handle on the remote memory store against a raw remote
// request carrying a string as long as the event (name + JSON args),
// answered with a uint64. The raw requests wait without a timeout, as
// multistore's blocking calls do (a timeout costs a wake-up of CAF's clock
// thread per request); the parent's watchdog ends the run at once if the
// server dies. Each ratio is the median of the rounds' own ratios: all
// measures run back to back in every round, `--rounds` times. Info rows: a
// raw request plus one send (the message pattern of use+release), a raw
// request through a local relay actor (what the stand-in of a remote store
// adds to a commit), the same use and commit against a store the client
// owns, and the raw local round trip.
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <multistore/actor_api.hpp>
#include <multistore/cluster.hpp>
#include <multistore/multistore.hpp>
#include <multistore/placement.hpp>

#include "ratio_table.hpp"

using namespace std::chrono_literals;
using namespace ratio_table;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;

/// The raw baselines' server: echoes a string, answers its length, or
/// swallows it (the release that follows a use).
caf::behavior echo() {
  return {
      [](ping_atom, std::string& s) { return std::move(s); },
      [](count_atom, const std::string& s) { return static_cast<std::uint64_t>(s.size()); },
      [](drop_atom, const std::string&) {},
  };
}

/// Passes (count_atom, string) on to `to` and its answer back, as the
/// stand-in of a remote store does with a commit: a request of its own and
/// a response promise.
caf::behavior relay(caf::event_based_actor* self, caf::actor to) {
  return {
      [self, to](count_atom a, std::string& s) {
        auto rp = self->make_response_promise();
        self->request(to, std::chrono::seconds{10}, a, std::move(s))
            .then([rp](std::uint64_t n) mutable { rp.deliver(n); },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
  };
}

/// A child's whole life, and the parent's, however it goes.
constexpr auto child_limit = 120s;
constexpr auto parent_limit = 110s;

int rounds = 9;
int ops_per_round = 1500;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "cluster_bench: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

/// Two distinct free TCP ports on 127.0.0.1 (bound to port 0, both open at
/// once, then closed: the kernel does not hand them out again soon).
std::pair<std::uint16_t, std::uint16_t> free_ports() {
  std::uint16_t out[2] = {0, 0};
  int fds[2] = {-1, -1};
  for (int i = 0; i < 2; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fds[i] < 0 || ::bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      die("cannot bind a port on 127.0.0.1");
    out[i] = ntohs(addr.sin_port);
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return {out[0], out[1]};
}

multistore::cluster_options cluster_as(std::string self, std::uint16_t client_port,
                                       std::uint16_t server_port) {
  multistore::cluster_options c;
  c.name = "cluster-bench";
  c.members = {{"client", "127.0.0.1", client_port}, {"server", "127.0.0.1", server_port}};
  c.self = std::move(self);
  if (auto ok = multistore::validate(c); !ok)
    die("cluster options: " + ok.error().message);
  return c;
}

/// The first store id of the form "bench-N" that `member` owns.
std::string id_owned_by(const std::string& member, const multistore::cluster_options& c) {
  for (int i = 0;; ++i) {
    auto id = "bench-" + std::to_string(i);
    if (multistore::owner_of(id, c.members) == member)
      return id;
  }
}

std::shared_ptr<spdlog::logger> quiet_logger() {
  return std::make_shared<spdlog::logger>("multistore",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

/// Ends the process `limit` from now, whatever the other threads do.
void watchdog(std::chrono::seconds limit) {
  std::thread([limit] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "cluster_bench: pid %d still running after %llds: exiting\n",
                 static_cast<int>(::getpid()), static_cast<long long>(limit.count()));
    std::_Exit(3);
  }).detach();
}

/// Set once the parent lets the server go; until then the server's end is a failure.
std::atomic<bool> server_released{false};

/// The parent's watchdog: ends the parent (and kills the server) `limit`
/// from now, and at once with a message when the server ends early (the
/// raw baselines wait without a timeout, as multistore's blocking calls do).
void parent_watchdog(std::chrono::seconds limit, pid_t child) {
  std::thread([limit, child] {
    const auto deadline = bench_clock::now() + limit;
    while (bench_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
      siginfo_t info{};
      if (!server_released.load()
          && ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0
          && info.si_pid == child && !server_released.load())
        die("the server process ended during the measures");
    }
    std::fprintf(stderr, "cluster_bench: still running after %llds: exiting\n",
                 static_cast<long long>(limit.count()));
    ::kill(child, SIGKILL);
    std::_Exit(3);
  }).detach();
}

// -- the server (the child) ------------------------------------------------------------

/// Node "server": owns the measured stores, publishes the echo actor on a
/// port of its choosing and writes that port to `to_parent`; ends when
/// `from_parent` reaches EOF.
[[noreturn]] void run_server(const multistore::cluster_options& cluster, int from_parent,
                             int to_parent) {
  watchdog(std::chrono::duration_cast<std::chrono::seconds>(child_limit));
  {
    caf::actor_system_config cfg;
    multistore::configure(cfg, cluster);
    caf::actor_system sys{cfg};
    multistore::register_schema<notes_schema>();
    multistore::registry_options options;
    options.cluster = cluster;
    multistore::store_registry registry{sys, options, quiet_logger()};
    auto server = sys.spawn(echo);
    auto port = sys.middleman().publish(server, 0, "127.0.0.1", true);
    if (!port)
      die("server: cannot publish the echo actor: " + sys.render(port.error()));
    const std::uint16_t p = *port;
    if (::write(to_parent, &p, sizeof p) != static_cast<ssize_t>(sizeof p))
      die("server: cannot tell the parent the echo port");
    ::close(to_parent);
    char c = 0;
    for (;;) {
      auto got = ::read(from_parent, &c, 1);
      if (got == 0 || (got < 0 && errno != EINTR))
        break;  // the parent closed its end, or died
    }
    watchdog(10s);  // a graceful shutdown, but a short one
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  }
  std::_Exit(0);  // a forked child runs none of the parent's exit handlers
}

// -- the client (the parent) -----------------------------------------------------------

/// The length of `x` in CAF's binary wire format.
template <class T>
std::size_t wire_size(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(x))
    die("cannot serialize: " + sys.render(err));
  return buf.size();
}

/// Operations per second of `n` calls of `cycle`.
template <class Cycle>
double rate(Cycle&& cycle) {
  auto t0 = bench_clock::now();
  for (int i = 0; i < ops_per_round; ++i)
    cycle();
  return ops_per_round / std::chrono::duration<double>(bench_clock::now() - t0).count();
}

void wait_for_members(multistore::store_registry& registry) {
  const auto deadline = bench_clock::now() + 10s;
  for (;;) {
    auto members = registry.members();
    bool all = !members.empty();
    std::string states;
    for (auto& m : members) {
      all = all && m.up;
      states += (states.empty() ? "" : ", ") + m.name + (m.up ? " up" : " down");
    }
    if (all)
      return;
    if (bench_clock::now() > deadline)
      die("the nodes did not come up within 10 s (" + states + ")");
    std::this_thread::sleep_for(20ms);
  }
}

/// Reads the echo port the server writes once it is ready (≤ 15 s).
std::uint16_t server_echo_port(int from_child) {
  pollfd pfd{from_child, POLLIN, 0};
  if (::poll(&pfd, 1, 15000) != 1)
    die("the server process did not get ready within 15 s");
  std::uint16_t port = 0;
  if (::read(from_child, &port, sizeof port) != static_cast<ssize_t>(sizeof port) || port == 0)
    die("the server process ended before it was ready (see its message above)");
  return port;
}

struct samples {
  std::vector<double> value, baseline, ratio;
  void add(double v, double b) {
    value.push_back(v);
    baseline.push_back(b);
    ratio.push_back(v / b);
  }
};

void run_client(caf::actor_system& sys, const multistore::cluster_options& cluster,
                std::uint16_t echo_port, const std::string& json_path) {
  multistore::register_schema<notes_schema>();
  multistore::registry_options options;
  options.cluster = cluster;
  multistore::store_registry registry{sys, options, quiet_logger()};
  wait_for_members(registry);

  auto remote_echo = sys.middleman().remote_actor("127.0.0.1", echo_port);
  if (!remote_echo)
    die("cannot reach the server's echo actor: " + sys.render(remote_echo.error()));
  auto local_echo = sys.spawn(echo);
  auto local_relay = sys.spawn(relay, *remote_echo);

  const auto remote_id = id_owned_by("server", cluster);
  const auto local_id = id_owned_by("client", cluster);
  if (registry.owner_of(remote_id) != "server" || registry.owner_of(local_id) != "client")
    die("placement disagrees with owner_of");
  const auto remote_opts = notes(remote_id);
  const auto local_opts = notes(local_id);
  // The holders keep both stores loaded and observed: every use() below
  // takes the cached path; the commits go through them.
  auto remote_holder = registry.use(remote_opts);
  auto local_holder = registry.use(local_opts);

  // Payloads as long as what multistore sends: the acquire's store_request
  // (as a blocking use() makes it: observe = false) and the commit's event.
  const auto request_bytes =
      wire_size(sys, multistore::make_store_request(remote_opts, false));
  const auto events = multistore::encode_events(note_added{"a note"});
  const auto event_args = events[0].args.dump();
  const auto event_bytes = events[0].name.size() + event_args.size();
  const std::vector<multistore::wire_event> wire{{events[0].name, event_args}};
  const auto wire_event_bytes = wire_size(sys, wire);
  const std::string request_payload(request_bytes, 'x');
  const std::string event_payload(event_bytes, 'x');
  std::printf("# nodes: 'client' (this process, runs the measures, owns '%s') and 'server' "
              "(a forked child, owns '%s'), on 127.0.0.1\n",
              local_id.c_str(), remote_id.c_str());
  std::printf("# payloads: use() baseline a %zu-byte string (the serialized store_request "
              "of '%s'); commit baseline a %zu-byte string (event name + JSON args; the "
              "serialized std::vector<wire_event> is %zu bytes) answered with a uint64\n",
              request_bytes, remote_id.c_str(), event_bytes, wire_event_bytes);
  std::printf("# %d rounds of %d operations per measure, medians of per-round ratios\n",
              rounds, ops_per_round);
  print_header();

  samples remote_use, remote_pair, remote_commit, remote_relay, local_use, local_commit, local_raw;
  for (int round = 0; round < rounds; ++round) {
    caf::scoped_actor self{sys};
    auto failed = [&](caf::error& err) { die("raw request failed: " + sys.render(err)); };
    auto ping = [&](const caf::actor& to) {
      self->request(to, caf::infinite, ping_atom::value, request_payload)
          .receive([](const std::string&) {}, failed);
    };
    auto count = [&](const caf::actor& to) {
      self->request(to, caf::infinite, count_atom::value, event_payload)
          .receive([](std::uint64_t) {}, failed);
    };
    const double remote_ping = rate([&] { ping(*remote_echo); });
    const double remote_ping_send = rate([&] {
      ping(*remote_echo);
      self->send(*remote_echo, drop_atom::value, request_payload);
    });
    const double ms_remote_use = rate([&] { registry.use(remote_opts).release(); });
    const double remote_count = rate([&] { count(*remote_echo); });
    const double relayed_count = rate([&] { count(local_relay); });
    const double ms_remote_commit = rate([&] { remote_holder.commit(note_added{"a note"}); });
    const double local_ping = rate([&] { ping(local_echo); });
    const double ms_local_use = rate([&] { registry.use(local_opts).release(); });
    const double local_count = rate([&] { count(local_echo); });
    const double ms_local_commit = rate([&] { local_holder.commit(note_added{"a note"}); });
    remote_use.add(ms_remote_use, remote_ping);
    remote_pair.add(remote_ping_send, remote_ping);
    remote_commit.add(ms_remote_commit, remote_count);
    remote_relay.add(relayed_count, remote_count);
    local_use.add(ms_local_use, local_ping);
    local_commit.add(ms_local_commit, local_count);
    local_raw.add(local_ping, remote_ping);
  }
  caf::anon_send_exit(local_echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(local_relay, caf::exit_reason::user_shutdown);

  auto row = [](std::string name, const samples& s, std::string bar, double at_least) {
    const auto r = median(s.ratio);
    report({std::move(name), median(s.value), median(s.baseline), "ops/s", r, bar,
            bar == "info" || r >= at_least});
  };
  row("remote cached use()+release, blocking", remote_use, ">= 0.7x", 0.7);
  row("  raw remote req/resp + 1 send (vs req/resp)", remote_pair, "info", 0);
  row("remote commit 1 event, memory store", remote_commit, ">= 0.7x", 0.7);
  row("  raw remote req/resp via a local relay actor", remote_relay, "info", 0);
  row("  local cached use()+release (vs local raw)", local_use, "info", 0);
  row("  local commit 1 event (vs local raw -> u64)", local_commit, "info", 0);
  row("  raw local req/resp (vs raw remote req/resp)", local_raw, "info", 0);
  write_json(json_path);
  std::fflush(stdout);
}

/// Set by whichever of main and the shutdown guard finishes the process.
std::atomic<bool> shutdown_claimed{false};

/// Closes the server's pipe (its EOF ends the server) and reaps it (≤ 15 s).
void let_server_go(pid_t child, int fd) {
  server_released = true;
  ::close(fd);
  int status = 0;
  const auto deadline = bench_clock::now() + 15s;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (bench_clock::now() > deadline) {
      std::fprintf(stderr, "cluster_bench: the server process did not end: killing it\n");
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    std::fprintf(stderr, "cluster_bench: the server process exited with %d\n",
                 WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    std::fprintf(stderr, "cluster_bench: the server process died of signal %d\n",
                 WTERMSIG(status));
}

}  // namespace

int main(int argc, char** argv) {
  const auto json_path = argument(argc, argv, "--json");
  if (auto r = argument(argc, argv, "--rounds"); !r.empty())
    rounds = std::max(1, std::atoi(r.c_str()));
  if (auto n = argument(argc, argv, "--ops"); !n.empty())
    ops_per_round = std::max(1, std::atoi(n.c_str()));
  const auto [client_port, server_port] = free_ports();
  int down[2];  // parent -> child: its EOF ends the child
  int up[2];    // child -> parent: the echo port, once the server is ready
  if (::pipe(down) != 0 || ::pipe(up) != 0)
    die("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  // Fork before any actor system (or any thread) exists in this process.
  const pid_t child = ::fork();
  if (child < 0)
    die("fork failed");
  if (child == 0) {
    ::close(down[1]);
    ::close(up[0]);
    run_server(cluster_as("server", client_port, server_port), down[0], up[1]);
  }
  ::close(down[0]);
  ::close(up[1]);
  parent_watchdog(std::chrono::duration_cast<std::chrono::seconds>(parent_limit), child);
  const auto echo_port = server_echo_port(up[0]);
  {
    const auto cluster = cluster_as("client", client_port, server_port);
    caf::actor_system_config cfg;
    multistore::configure(cfg, cluster);
    caf::actor_system sys{cfg};
    run_client(sys, cluster, echo_port, json_path);
    server_released = true;  // measured: the server may go now
    // The results are out. An actor system that does not come down within
    // 5 s has an actor left running: say so, and end anyway.
    std::thread([child, fd = down[1]] {
      std::this_thread::sleep_for(5s);
      if (shutdown_claimed.exchange(true))
        return;
      std::fprintf(stderr,
                   "cluster_bench: warning: the client's actor system did not shut down "
                   "within 5 s (an actor is still running); exiting anyway, the results above "
                   "are complete\n");
      let_server_go(child, fd);
      std::_Exit(0);
    }).detach();
  }
  if (shutdown_claimed.exchange(true))
    for (;;)
      ::pause();  // the guard above is ending the process
  let_server_go(child, down[1]);
  return 0;
}
