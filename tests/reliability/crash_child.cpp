// The process the crash test kills: it commits batches to several file stores
// through the real library from several threads, and reports each outcome on
// file descriptor 3, one line per commit, written with a single write() after
// the commit returned (so a line always means "acknowledged"):
//
//     ready
//     ack <store> <batch> <last sequence number> <events>
//     fail <store> <batch> <errc>
//
// Usage: reliability_crash_child <directory> <seed> <stores> <threads> <clear 0|1>
// It runs until it is killed (at most 60 s).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "ledger.hpp"
#include "multistore/multistore.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int report_fd = 3;

void report(const std::string& line) {
  // One write per line: lines up to PIPE_BUF bytes reach the pipe whole.
  auto text = line + "\n";
  if (::write(report_fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    std::_Exit(5);  // the parent is gone
}

std::string store_name(std::size_t i) { return "s" + std::to_string(i); }

multistore::store_options<ledger::ledger_schema> options(const std::string& dir, std::size_t i,
                                                         multistore::gc_duration gc) {
  // Store 0 fsyncs every commit; the others use the default (crash-safe) level.
  auto sync = i == 0 ? multistore::sync_level::full : multistore::sync_level::normal;
  return {.store_id = store_name(i),
          .storage = multistore::sqlite_adapter{dir, sync},
          .gc_time = gc};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <dir> <seed> <stores> <threads> <clear 0|1>\n", argv[0]);
    return 2;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string dir = argv[1];
  const auto seed = std::strtoull(argv[2], nullptr, 10);
  const auto stores = static_cast<std::size_t>(std::strtoul(argv[3], nullptr, 10));
  const auto threads = static_cast<std::size_t>(std::strtoul(argv[4], nullptr, 10));
  const bool clearing = std::string{argv[5]} == "1";

  std::thread{[] {
    std::this_thread::sleep_for(60s);
    std::_Exit(3);
  }}.detach();

  caf::actor_system_config cfg;
  multistore::configure(cfg);
  caf::actor_system sys{cfg};
  multistore::store_registry registry{sys};
  for (std::size_t i = 0; i < stores; ++i)
    registry.preload(options(dir, i, 100ms)).get();
  report("ready");

  // Odd stores are used through one long-lived handle per thread; even stores
  // through a fresh handle per commit with gc_time 0, so they are disposed
  // and reloaded all the time while other threads commit to them.
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng{seed * 7919 + t};
      std::map<std::size_t, multistore::store_handle<ledger::ledger_schema>> held;
      for (std::uint64_t n = 0;; ++n) {
        const auto s = static_cast<std::size_t>(rng() % stores);
        const auto size = static_cast<std::int64_t>(1 + rng() % 5);
        const auto batch = "t" + std::to_string(t) + "-" + std::to_string(n);
        const auto events = ledger::make_batch(batch, size, rng);
        try {
          std::uint64_t seq = 0;
          if (s % 2 == 0) {
            auto h = registry.use(options(dir, s, 0ms));
            seq = ledger::commit_batch(h, events);
            report("ack " + store_name(s) + " " + batch + " " + std::to_string(seq) + " "
                   + std::to_string(size));
          } else {
            auto& h = held[s];
            if (!h)
              h = registry.use(options(dir, s, 100ms));
            seq = ledger::commit_batch(h, events);
            report("ack " + store_name(s) + " " + batch + " " + std::to_string(seq) + " "
                   + std::to_string(size));
          }
        } catch (const multistore::store_error& e) {
          report("fail " + store_name(s) + " " + batch + " "
                 + std::string{multistore::to_string(e.code())});
          held.erase(s);
        }
      }
    });
  }
  // Optionally clear the registry now and then: held handles then fail with
  // store_disposed, and loads in flight with cancelled.
  if (clearing) {
    std::mt19937_64 rng{seed};
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds{static_cast<std::int64_t>(5 + rng() % 40)});
      registry.clear().get();
    }
  }
  for (auto& w : writers)
    w.join();
}
