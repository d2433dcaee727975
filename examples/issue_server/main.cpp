// issue_server — a multi-tenant issue tracker over HTTP on multistore: one
// workspace store per workspace, one issue store per issue, SQLite files
// under --data. See README "Example: an HTTP issue tracker".
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <httplib.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <multistore/devtools.hpp>
#include <multistore/multistore.hpp>

#include "schemas.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  CLI::App app{"issue_server: a multi-tenant issue tracker over HTTP on multistore"};
  std::filesystem::path data = "issue-data";
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::filesystem::path tokens_file;
  int threads = 64;
  int heartbeat_ms = 15000;
  int io_threads = 0;
  bool devtools = false;
  bool baseline = false;
  app.add_option("--data", data, "directory for the SQLite files");
  app.add_option("--port", port, "port to listen on (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--bind", bind, "address to listen on");
  app.add_option("--tokens", tokens_file, "file of 'workspace token' lines (default: no auth)");
  app.add_option("--threads", threads, "HTTP worker threads (each open live stream holds one)")
      ->check(CLI::Range(2, 1024));
  app.add_option("--io-threads", io_threads,
                 "threads for the stores' SQLite work (0: the registry's default, twice the cores)")
      ->check(CLI::Range(0, 256));
  app.add_option("--heartbeat-ms", heartbeat_ms, "how often an idle live stream sends a comment")
      ->check(CLI::Range(10, 600000));
  app.add_flag("--devtools", devtools, "serve the devtools page under /devtools/");
  app.add_flag("--baseline", baseline,
               "answer from maps behind one mutex in memory instead of stores (benchmarks only: "
               "nothing is durable)");
  CLI11_PARSE(app, argc, argv);

  issue_tracker::service_options options{.data = data,
                                         .live_heartbeat = std::chrono::milliseconds{heartbeat_ms}};
  if (!tokens_file.empty()) {
    auto tokens = issue_tracker::read_tokens(tokens_file);
    if (!tokens) {
      std::fprintf(stderr, "issue_server: %s\n", tokens.error().c_str());
      return 2;
    }
    options.tokens = std::move(*tokens);
  }
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) {
    std::fprintf(stderr, "issue_server: cannot create %s: %s\n", data.c_str(), ec.message().c_str());
    return 2;
  }

  // SIGINT and SIGTERM go to one thread that stops the server; every other
  // thread (the actor system's, the HTTP workers) inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system_config cfg;
  multistore::configure(cfg);
  caf::actor_system sys{cfg};
  auto log = std::make_shared<spdlog::logger>("multistore",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_level(spdlog::level::warn);
  multistore::register_schema<issue_tracker::workspace_schema>();
  multistore::register_schema<issue_tracker::issue_schema>();
  int status = 0;
  {
    multistore::registry_options ro;
    ro.io_threads = static_cast<std::size_t>(io_threads);
    multistore::store_registry registry{sys, ro, log};
    auto service = baseline ? std::make_unique<issue_tracker::service>(options)
                            : std::make_unique<issue_tracker::service>(registry, options);
    std::unique_ptr<multistore::devtools_server> tools;
    httplib::Server server;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    service->mount(server);
    if (devtools) {
      tools = std::make_unique<multistore::devtools_server>(registry);
      issue_tracker::mount_devtools(server, tools->port());
    }
    int bound = port == 0 ? server.bind_to_any_port(bind) : (server.bind_to_port(bind, port) ? port : -1);
    if (bound <= 0) {
      std::fprintf(stderr, "issue_server: cannot listen on %s:%d\n", bind.c_str(), port);
      status = 1;
    } else {
      std::thread stopper{[&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        service->stop();  // live streams end; their leases go back
        server.stop();   // stop accepting; in-flight requests finish
      }};
      std::printf("issue_server: listening on http://%s:%d/ (%s%s%s)\n", bind.c_str(), bound,
                  baseline ? "in-memory baseline, nothing durable" : "data in ",
                  baseline ? "" : data.c_str(), devtools ? ", devtools at /devtools/" : "");
      std::fflush(stdout);
      server.listen_after_bind();
      // Stopped by a signal, or failed: wake the stopper either way (a
      // signal it already took leaves this one pending, harmlessly).
      pthread_kill(stopper.native_handle(), SIGTERM);
      stopper.join();
    }
    tools.reset();
    registry.clear().get();  // every store closed, every commit answered
  }
  std::printf("issue_server: stopped\n");
  return status;
}
