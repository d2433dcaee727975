#pragma once

#include <future>
#include <memory>
#include <vector>
#include <string>
#include <string_view>

#include "multistore/detail/call.hpp"
#include "multistore/detail/registry_front.hpp"
#include "multistore/options.hpp"
#include "multistore/store_handle.hpp"
#include "multistore/store_info.hpp"

namespace caf {
class actor;
class actor_system;
}  // namespace caf

namespace spdlog {
class logger;
}

namespace multistore {

/// The framework user's entry point: owns a registry actor that loads stores
/// on demand, shares them between observers and disposes of them `gc_time`
/// after the last observer left.
///
///     caf::actor_system_config cfg;
///     multistore::configure(cfg);
///     caf::actor_system sys{cfg};
///     multistore::store_registry registry{sys};
///     auto issue = registry.use(issue_options("issue-1"));   // blocks until ready
///     issue.commit(issue_created{...});
///
/// Thread-safe: any thread may call any member. `use()` blocks the calling
/// thread: call it from plain threads, never from inside an actor (actors use
/// the messages of registry_actor.hpp, or multistore/actor_api.hpp). The
/// destructor shuts every store down gracefully and waits for them; handles
/// must not outlive the actor system.
class store_registry : public detail::registry_front<store_registry> {
 public:
  explicit store_registry(caf::actor_system& sys, registry_options options = {},
                          std::shared_ptr<spdlog::logger> logger = nullptr);
  ~store_registry();
  store_registry(const store_registry&) = delete;
  store_registry& operator=(const store_registry&) = delete;

  /// Warms a store without observing it; the future is ready once the store
  /// is loaded, or the load failed (load errors are swallowed).
  template <class Schema>
  std::future<void> preload(const store_options<Schema>& options) {
    return preload_call(detail::make_call(options));
  }

  /// Cancels waiting loads and shuts every store down; ready once all are
  /// closed. The registry stays usable. Older handles fail with store_disposed.
  std::future<void> clear();

  /// What the registry knows about `store_id` (any id).
  store_info inspect(std::string_view store_id) const;
  registry_stats stats() const;
  /// The registry's metrics in Prometheus's text exposition format (0.0.4):
  /// stores by phase, loads, disposals, commits, latency histograms, file
  /// descriptors and memory (multistore/metrics.hpp; names in the README).
  std::string metrics() const;

  /// In a cluster (`registry_options::cluster`): the member that owns
  /// `store_id`, by rendezvous placement over all configured members, up or
  /// not. Outside a cluster: "".
  std::string owner_of(std::string_view store_id) const;
  /// In a cluster: every member, whether its link is up and since when (this
  /// node: up since its registry started). Outside a cluster: empty.
  std::vector<member_status> members() const;

  /// The registry actor, for actors (see registry_actor.hpp for its protocol).
  caf::actor actor() const;
  caf::actor_system& system() const noexcept;

 private:
  friend class detail::registry_front<store_registry>;
  std::shared_ptr<detail::lease> acquire(detail::call call);
  std::future<void> preload_call(detail::call call);

  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The registry installed for `sys` (the first store_registry constructed on
/// it), or `*override` when given. Throws `store_error{no_registry}` when
/// neither exists.
store_registry& use_store_registry(caf::actor_system& sys, store_registry* override = nullptr);

}  // namespace multistore
