#include "multistore/cluster.hpp"

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/timespan.hpp>

#include "multistore/system_setup.hpp"

namespace multistore {

void configure(caf::actor_system_config& cfg, const cluster_options& cluster) {
  using namespace std::chrono_literals;
  configure(cfg);
  cfg.load<caf::io::middleman>();
  // Both must be the same on every node: with only one side sending
  // heartbeats, the other side kills healthy idle links.
  cfg.set("middleman.heartbeat-interval", caf::timespan{500ms});
  cfg.set("middleman.connection-timeout", caf::timespan{2s});
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"multistore:" + cluster.name});
  if (uses_tls(cluster)) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.certificate", cluster.certificate.string());
    cfg.set("openssl.key", cluster.key.string());
    cfg.set("openssl.cafile", cluster.ca.string());
  }
}

}  // namespace multistore
