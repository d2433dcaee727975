#pragma once

// The issue tracker's HTTP API on a store registry: mounted on a cpp-httplib
// server by issue_server's main and by the tests.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <tl/expected.hpp>

namespace httplib {
class Server;
}

namespace multistore {
class store_registry;
}

namespace issue_tracker {

/// Workspace id → its bearer token.
using token_map = std::map<std::string, std::string>;

/// Reads a tokens file: one `workspace token` per line, `#` comments and
/// blank lines ignored. A bad line is an error naming its number.
tl::expected<token_map, std::string> read_tokens(const std::filesystem::path& file);

struct service_options {
  /// Where the stores' SQLite files live.
  std::filesystem::path data;
  /// Empty: no authentication (for a loopback-only trial).
  token_map tokens;
  /// How often an idle live stream sends a comment line, which is also how
  /// soon it notices that its client went away.
  std::chrono::milliseconds live_heartbeat{15000};
  /// gc_time of the issue stores (workspace stores are gc_never).
  std::chrono::milliseconds issue_gc_time{30000};
};

/// The issue tracker's routes (README "Example: an HTTP issue tracker"):
/// workspaces, issues, comments, live streams, /healthz and /metrics.
/// Thread-safe: every request runs on the server's own threads and reaches
/// the stores through the registry's blocking facade.
class service {
 public:
  /// The tracker on multistore: file stores under `options.data`.
  service(multistore::store_registry& registry, service_options options);
  /// The baseline: the same HTTP layer answering from maps behind one
  /// mutex, in memory (nothing is durable). For benchmarks.
  explicit service(service_options options);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Adds the routes, the body limit and the JSON error handler to `server`.
  void mount(httplib::Server& server);

  /// Ends the live streams (their leases are released) so that the server's
  /// stop() does not wait for them. Later live requests answer 503.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Serves the devtools page and its API under /devtools/ by relaying GETs to
/// a devtools server on 127.0.0.1:`devtools_port` (the page asks with
/// relative paths); /devtools redirects to /devtools/.
void mount_devtools(httplib::Server& server, std::uint16_t devtools_port);

}  // namespace issue_tracker
