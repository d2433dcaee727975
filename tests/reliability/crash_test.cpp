// Nothing committed is ever lost: a child process (crash_child.cpp) commits
// through the real library and reports every acknowledged commit; the test
// kills it with SIGKILL at a random moment, reopens every store and checks
// the log and the state against what was acknowledged.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger.hpp"
#include "temp_dir.hpp"

extern char** environ;

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t store_count = 4;
constexpr std::size_t writer_threads = 3;

/// A running crash child and the read end of its report pipe.
struct child {
  pid_t pid = -1;
  int reports = -1;
};

child spawn_child(const fs::path& dir, std::uint64_t seed, bool clearing, const fs::path& log) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  // Out of the way of 0..3, so the dup2 below never maps an fd onto itself.
  int write_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 64);
  ::close(fds[1]);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(write_end >= 0);
  REQUIRE(log_fd >= 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end, 3);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  std::vector<std::string> args{MULTISTORE_CRASH_CHILD,         dir.string(),
                                std::to_string(seed),           std::to_string(store_count),
                                std::to_string(writer_threads), clearing ? "1" : "0"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  child c;
  int rc = ::posix_spawn(&c.pid, MULTISTORE_CRASH_CHILD, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(write_end);
  ::close(log_fd);
  INFO("posix_spawn " << MULTISTORE_CRASH_CHILD << ": " << std::strerror(rc));
  REQUIRE(rc == 0);
  c.reports = fds[0];
  return c;
}

/// The last 4000 bytes of `p`.
std::string tail_of(const fs::path& p) {
  std::error_code ec;
  auto size = static_cast<std::size_t>(fs::file_size(p, ec));
  if (ec)
    return {};
  const auto offset = size > 4000 ? size - 4000 : 0;
  std::string out(size - offset, '\0');
  std::ifstream in{p, std::ios::binary};
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

/// What the parent heard from one child.
struct heard {
  bool ready = false;
  std::size_t acks = 0;
  std::map<std::string, ledger::outcomes> stores;
  std::vector<std::string> fail_reasons;
  std::vector<std::string> garbage;  // lines that do not parse
};

void parse(const std::string& line, heard& h) {
  std::istringstream in{line};
  std::string kind, store, batch;
  in >> kind;
  if (kind == "ready") {
    h.ready = true;
  } else if (kind == "ack") {
    ledger::ack a;
    if (in >> store >> batch >> a.last_seq >> a.size) {
      h.stores[store].acked[batch] = a;
      ++h.acks;
      return;
    }
    h.garbage.push_back(line);
  } else if (kind == "fail") {
    std::string reason;
    if (in >> store >> batch >> reason) {
      h.stores[store].failed.insert(batch);
      h.fail_reasons.push_back(reason);
      return;
    }
    h.garbage.push_back(line);
  } else {
    h.garbage.push_back(line);
  }
}

/// Reads what is available (waiting at most `wait`); false at end of file.
bool pump(int fd, std::string& buffer, heard& h, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (n <= 0)
    return true;
  char chunk[65536];
  auto got = ::read(fd, chunk, sizeof chunk);
  if (got < 0)
    return errno == EINTR || errno == EAGAIN;
  if (got == 0)
    return false;
  buffer.append(chunk, static_cast<std::size_t>(got));
  std::size_t start = 0;
  for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
    parse(buffer.substr(start, nl - start), h);
    start = nl + 1;
  }
  buffer.erase(0, start);
  return true;
}

}  // namespace

TEST_CASE("acknowledged commits survive SIGKILL at a random moment and the state matches a "
          "replay of the log",
          "[reliability][crash]") {
  constexpr int trials = 20;
  std::size_t total_acks = 0, total_events = 0, unacknowledged = 0, trials_with_acks = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::uint64_t seed = 0x5eed0000u + static_cast<std::uint64_t>(trial);
    std::mt19937_64 rng{seed};
    // Every fifth trial is killed early (during start-up and the first
    // loads), the others after a random delay once the child commits; every
    // fourth clears its registry now and then.
    const bool early = trial % 5 == 0;
    const bool clearing = trial % 4 == 3;
    const auto delay = early ? std::chrono::milliseconds{static_cast<std::int64_t>(rng() % 80)}
                             : std::chrono::milliseconds{static_cast<std::int64_t>(rng() % 250)};
    INFO("trial " << trial << " seed " << seed << (early ? " early" : "")
                  << (clearing ? " clearing" : "") << " kill after " << delay.count() << " ms");

    temp_dir tmp;
    const auto dir = tmp.path() / "stores";
    const auto log = tmp.path() / "child.log";
    auto c = spawn_child(dir, seed, clearing, log);

    heard h;
    std::string buffer;
    const auto start = steady::now();
    const auto give_up = start + 30s;  // a child that makes no progress fails the test
    auto kill_at = early ? start + delay : steady::time_point::max();
    bool open = true;
    while (open) {
      const auto now = steady::now();
      if (now >= give_up)
        break;
      if (now >= kill_at && (early || h.acks > 0))
        break;
      steady::duration wait = 50ms;
      if (kill_at != steady::time_point::max())
        wait = std::min(wait, kill_at - now);
      const bool was_ready = h.ready;
      open = pump(c.reports, buffer, h, std::chrono::ceil<std::chrono::milliseconds>(wait));
      if (!early && h.ready && !was_ready)
        kill_at = steady::now() + delay;
    }
    const bool timed_out = steady::now() >= give_up;
    ::kill(c.pid, SIGKILL);
    // The lines written before it died, up to the end of the pipe.
    for (auto until = steady::now() + 30s; steady::now() < until;)
      if (!pump(c.reports, buffer, h, 100ms))
        break;
    ::close(c.reports);
    int status = 0;
    REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
    INFO("child output (tail):\n" << tail_of(log));
    REQUIRE_FALSE(timed_out);
    REQUIRE(open);  // the child must not have exited on its own
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    CHECK(h.garbage.empty());
    CHECK(buffer.empty());  // no half line: each report is one write()
    for (const auto& reason : h.fail_reasons) {
      // Only clear() may fail a commit, and only as documented.
      INFO("a commit failed with " << reason);
      CHECK(clearing);
      CHECK((reason == "store_disposed" || reason == "cancelled"));
    }
    if (!early)
      CHECK(h.acks > 0);
    total_acks += h.acks;
    trials_with_acks += h.acks > 0 ? 1 : 0;

    for (std::size_t s = 0; s < store_count; ++s) {
      const auto id = "s" + std::to_string(s);
      auto r = ledger::check_store(dir, id, h.stores[id], tmp.path() / "replay");
      INFO("store " << id << ": " << h.stores[id].acked.size() << " acknowledged, "
                    << r.events << " events in the log");
      CHECK(r.problems == std::vector<std::string>{});
      total_events += r.events;
      unacknowledged += r.unacknowledged;
    }
  }
  INFO(total_acks << " acknowledged commits, " << total_events << " events checked, "
                  << unacknowledged << " whole unacknowledged batches");
  CHECK(trials_with_acks >= trials - trials / 5);
}
