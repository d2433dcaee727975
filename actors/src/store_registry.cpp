#include "multistore/store_registry.hpp"

#include <mutex>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "detail/cluster_actor.hpp"
#include "detail/registry_client.hpp"
#include "multistore/placement.hpp"
#include "multistore/registry_actor.hpp"

namespace multistore {

namespace {

struct installed {
  std::mutex mtx;
  std::unordered_map<caf::actor_system*, store_registry*> by_system;
};

installed& installed_registries() {
  static installed instance;
  return instance;
}

}  // namespace

struct store_registry::impl {
  caf::actor_system& sys;
  detail::registry_client client;
  std::optional<cluster_options> cluster;
  caf::actor cluster_actor;
};

namespace {

/// Stops `actor` and waits until it is gone.
void stop(caf::actor_system& sys, const caf::actor& actor) {
  caf::scoped_actor self{sys};
  self->send_exit(actor, caf::exit_reason::user_shutdown);
  self->wait_for(actor);
}

}  // namespace

store_registry::store_registry(caf::actor_system& sys, registry_options options,
                               std::shared_ptr<spdlog::logger> logger) {
  if (auto ok = validate(options); !ok)
    throw store_error(ok.error());
  auto cluster = options.cluster;
  caf::actor cluster_actor;
  caf::actor registry;
  if (cluster) {
    cluster_actor = detail::spawn_cluster(sys, *cluster, logger);
    registry = detail::spawn_cluster_registry(sys, std::move(options), logger, cluster_actor);
    try {
      detail::publish_cluster(sys, cluster_actor, registry, *cluster);
    } catch (...) {
      stop(sys, registry);
      stop(sys, cluster_actor);
      throw;
    }
  } else {
    registry = spawn_registry(sys, std::move(options), std::move(logger));
  }
  impl_ = std::make_unique<impl>(impl{
      sys, detail::registry_client{std::make_shared<detail::requester>(sys), std::move(registry)},
      std::move(cluster), std::move(cluster_actor)});
  if (impl_->cluster)
    impl_->client.route_remote(impl_->cluster_actor, impl_->cluster->members, impl_->cluster->self);
  auto& reg = installed_registries();
  std::lock_guard guard{reg.mtx};
  reg.by_system.try_emplace(&sys, this);
}

store_registry::~store_registry() {
  {
    auto& reg = installed_registries();
    std::lock_guard guard{reg.mtx};
    if (auto i = reg.by_system.find(&impl_->sys); i != reg.by_system.end() && i->second == this)
      reg.by_system.erase(i);
  }
  const auto& registry = impl_->client.registry();
  caf::scoped_actor self{impl_->sys};
  self->request(registry, caf::infinite, shutdown_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(registry, caf::exit_reason::user_shutdown);
  self->wait_for(registry);
  // Its end releases the leases this node held on other nodes' stores.
  if (impl_->cluster_actor)
    stop(impl_->sys, impl_->cluster_actor);
}

std::string store_registry::owner_of(std::string_view store_id) const {
  if (!impl_->cluster)
    return {};
  return multistore::owner_of(store_id, impl_->cluster->members);
}

std::vector<member_status> store_registry::members() const {
  std::vector<member_status> out;
  if (!impl_->cluster_actor)
    return out;
  caf::scoped_actor self{impl_->sys};
  self->request(impl_->cluster_actor, std::chrono::seconds{10}, members_atom::value)
      .receive(
          [&](std::vector<member_status_msg>& list) {
            for (auto& m : list)
              out.push_back(member_status{
                  std::move(m.name), m.up,
                  std::chrono::system_clock::time_point{std::chrono::milliseconds{m.since_ms}}});
          },
          [](caf::error&) {});
  return out;
}

std::shared_ptr<detail::lease> store_registry::acquire(detail::call call) {
  return detail::value_or_throw(impl_->client.acquire(std::move(call)));
}

std::future<void> store_registry::preload_call(detail::call call) {
  return impl_->client.preload(std::move(call));
}

std::future<void> store_registry::clear() {
  return impl_->client.clear();
}

store_info store_registry::inspect(std::string_view store_id) const {
  return detail::value_or_throw(impl_->client.inspect(store_id));
}

registry_stats store_registry::stats() const {
  return detail::value_or_throw(impl_->client.stats());
}

std::string store_registry::metrics() const {
  return detail::value_or_throw(impl_->client.metrics());
}

caf::actor store_registry::actor() const {
  return impl_->client.registry();
}

caf::actor_system& store_registry::system() const noexcept {
  return impl_->sys;
}

store_registry& use_store_registry(caf::actor_system& sys, store_registry* override) {
  if (override != nullptr)
    return *override;
  auto& reg = installed_registries();
  std::lock_guard guard{reg.mtx};
  auto i = reg.by_system.find(&sys);
  if (i == reg.by_system.end())
    throw store_error(errc::no_registry,
                      "no store_registry was constructed on this actor system; construct one "
                      "or pass it as override");
  return *i->second;
}

}  // namespace multistore
