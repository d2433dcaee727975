#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace multistore {

class store_registry;

struct devtools_options {
  /// The address to listen on; loopback unless you mean otherwise.
  std::string bind = "127.0.0.1";
  /// 0: any free port (`devtools_server::port()` says which).
  std::uint16_t port = 0;
  /// Set: every request must carry `Authorization: Bearer <token>` (the page
  /// may pass `?token=<token>` instead), else 401.
  std::string token;
};

/// A read-only HTTP view of one registry: a live page of every store it
/// holds with each store's event log, state tables and subscriptions, a JSON
/// API under /api/ and the registry's metrics at /metrics (routes in the
/// README). Reading a store never loads it and takes no lease: a store that
/// is not loaded answers 404. A store whose effective `disable_devtools` is
/// true shows its id and phase only; its events and tables answer 403.
///
///     multistore::devtools_server devtools{registry};
///     std::cout << "devtools at " << devtools.url() << '\n';
///
/// Serves on its own threads from construction to destruction; destroy it
/// before the registry. Throws std::runtime_error when it cannot listen.
class devtools_server {
 public:
  explicit devtools_server(store_registry& registry, devtools_options options = {});
  ~devtools_server();
  devtools_server(const devtools_server&) = delete;
  devtools_server& operator=(const devtools_server&) = delete;

  std::uint16_t port() const noexcept;
  /// "http://<bind>:<port>/"
  std::string url() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace multistore
