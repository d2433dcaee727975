#pragma once

// A cluster_node child process for the multi-process tests: started with
// pipes on its stdin and stdout, asked one line at a time, each answer
// awaited under a timeout; killed (SIGKILL) and reaped when the object goes.

#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "temp_dir.hpp"

class node_process {
 public:
  node_process(const std::string& cluster_file, const std::string& name,
               const std::filesystem::path& data)
      : name_(name) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      const std::string dir = data.string();
      execl(MULTISTORE_CLUSTER_NODE, MULTISTORE_CLUSTER_NODE, "--cluster", cluster_file.c_str(),
            "--node", name.c_str(), "--data", dir.c_str(), "--max-seconds", "90",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }

  ~node_process() {
    if (to_ >= 0)
      close(to_);
    if (from_ >= 0)
      close(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  const std::string& name() const noexcept { return name_; }

  /// The next line the node prints, or "timeout".
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds{15}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return "timeout";
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[4096];
      auto n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0)
        return "eof";
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Sends one command and returns its answer line.
  std::string ask(const std::string& command,
                  std::chrono::milliseconds timeout = std::chrono::seconds{15}) {
    auto line = command + "\n";
    if (::write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      return "eof";
    return read_line(timeout);
  }

  void signal(int sig) {
    if (pid_ > 0)  // never kill(-1, ...): that is every process
      ::kill(pid_, sig);
  }

  /// Asks the node to end (quit, then EOF) and waits up to `timeout` for it:
  /// its exit status, or -1 when it had to be killed (an actor left alive
  /// holds up the actor system's destructor: that hangs here).
  int quit(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    (void)!::write(to_, "quit\n", 5);
    close(to_);
    to_ = -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    kill();
    return -1;
  }

  /// SIGKILL and reap.
  void kill() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buffer_;
};

/// `count` TCP ports on 127.0.0.1 that were free a moment ago (the kernel
/// picks them: no fixed range can clash with another test run).
inline std::vector<std::uint16_t> free_ports(std::size_t count) {
  std::vector<int> socks;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    ports.push_back(ntohs(addr.sin_port));
    socks.push_back(s);
  }
  for (int s : socks)
    close(s);
  return ports;
}

/// A cluster file of `names` on 127.0.0.1 with fresh ports, in `dir`.
inline std::string write_cluster_file(const std::filesystem::path& dir,
                                      const std::vector<std::string>& names,
                                      const std::string& cluster = "test",
                                      const std::string& file = "cluster.conf") {
  auto ports = free_ports(names.size());
  auto path = dir / file;
  std::ofstream out{path};
  out << "cluster " << cluster << "\n";
  for (std::size_t i = 0; i < names.size(); ++i)
    out << names[i] << " 127.0.0.1 " << ports[i] << "\n";
  return path.string();
}
