#pragma once

// A registry as one node of a cluster: stores across processes and machines
// on CAF's io middleman (BASP over TCP, mutual TLS through caf_openssl).
//
// Normal usage, on every node (the same cluster file everywhere, each node
// its own name):
//
//     auto cluster = multistore::read_cluster_file("cluster.conf", "node-a");
//     if (!cluster) { /* cluster->error().message says which line and why */ }
//     caf::actor_system_config cfg;
//     multistore::configure(cfg, *cluster);
//     caf::actor_system sys{cfg};
//     multistore::register_schema<issue_schema>();   // the schemas this node may own
//     multistore::store_registry registry{sys, {.cluster = *cluster}};
//     auto issue = registry.use(issue_options("issue-42"));  // wherever it is owned
//
// Every store id has one owner, the rendezvous-hash winner over all members
// (multistore/placement.hpp); its file lives there only. `use`, `preload`,
// the actor API and `inspect` go to the owner's registry; a handle's commit,
// query and subscribe go to the owner's store actor. While the owner is down
// its stores fail with `errc::unavailable` and every other store keeps
// serving; a commit that fails with `unavailable` may or may not have been
// committed.

#include <string>
#include <string_view>
#include <vector>

#include "multistore/cluster_config.hpp"
#include "multistore/detail/call.hpp"
#include "multistore/placement.hpp"

namespace caf {
class actor_system_config;
}

namespace multistore {

/// Everything `configure(cfg)` does, plus what a cluster node needs: loads
/// CAF's middleman (and its OpenSSL manager with `openssl.certificate`,
/// `openssl.key` and `openssl.cafile` when the three files are set: mutual
/// TLS, any certificate signed by that CA is a peer), turns on heartbeats
/// (`middleman.heartbeat-interval` 500 ms, `middleman.connection-timeout`
/// 2 s: a hung peer is noticed within 2 s) and puts the cluster's name into
/// `middleman.app-identifiers`, so that a node of another cluster is refused
/// at CAF's handshake already. Without the TLS files, links are plain TCP:
/// for private networks only.
void configure(caf::actor_system_config& cfg, const cluster_options& cluster);

/// Makes schema `S` known to this process, so that this node can open the
/// stores of that schema it owns when another node asks for them. Schemas
/// are compiled in, never sent: every node calls this at start-up for each
/// schema of the stores it may own (a node that itself `use`s a schema has
/// registered it already).
template <class Schema>
void register_schema() {
  (void)detail::schema_key<Schema>();
}

}  // namespace multistore
