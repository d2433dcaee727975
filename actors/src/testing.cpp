#include "multistore/testing.hpp"

#include <optional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/logger.h>

#include "detail/cluster_actor.hpp"
#include "detail/registry_client.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/system_setup.hpp"

namespace multistore::testing {

namespace {

caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
  configure(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  return cfg;
}

/// A logger without sinks: tests stay quiet.
std::shared_ptr<spdlog::logger> quiet_logger() {
  return std::make_shared<spdlog::logger>("multistore.fixture");
}

/// The registry, and in a cluster this node's cluster actor, which never
/// dials (there is no middleman here): the test plays the other members.
std::pair<caf::actor, caf::actor> spawn_node(caf::actor_system& sys, registry_options options) {
  if (!options.cluster)
    return {spawn_registry(sys, std::move(options), quiet_logger()), caf::actor{}};
  auto cluster = detail::spawn_cluster(sys, *options.cluster, quiet_logger());
  auto registry = detail::spawn_cluster_registry(sys, std::move(options), quiet_logger(), cluster);
  caf::anon_send(cluster, caf::put_atom::value, registry);
  return {std::move(registry), std::move(cluster)};
}

}  // namespace

struct fixture::impl {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::optional<cluster_options> cluster_opts;
  std::pair<caf::actor, caf::actor> node;  ///< the registry, the cluster actor
  detail::registry_client client;
  caf::actor_clock::time_point start;

  explicit impl(registry_options options)
      : sys(testing_config(cfg)),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys, true),
        cluster_opts(options.cluster),
        node(spawn_node(sys, std::move(options))),
        client(std::make_shared<detail::requester>(sys, self, [this] { sched.run(); }),
               node.first),
        start(sched.clock().now()) {
    if (cluster_opts)
      client.route_remote(node.second, cluster_opts->members, cluster_opts->self);
    sched.run();
  }

  /// Runs until `f` is ready and returns it (throwing what it holds).
  void settle(std::future<void> f) {
    sched.run();
    if (f.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
      throw store_error(errc::cancelled,
                        "no answer while the fixture is idle: the call waits for virtual time "
                        "(advance the clock) or for a load that never finishes");
    f.get();
  }

  ~impl() {
    const auto& registry = client.registry();
    self->send(registry, shutdown_atom::value);
    sched.run();
    self->send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
    if (node.second) {
      self->send_exit(node.second, caf::exit_reason::user_shutdown);
      sched.run();
    }
    // Timers left in the virtual clock only hold messages: drop them.
    while (sched.clock().trigger_timeout())
      sched.run();
  }
};

fixture::fixture(registry_options options) {
  if (auto ok = validate(options); !ok)
    throw store_error(ok.error());
  impl_ = std::make_unique<impl>(std::move(options));
}

fixture::~fixture() = default;

std::shared_ptr<detail::lease> fixture::acquire(detail::call call) {
  return detail::value_or_throw(impl_->client.acquire(std::move(call)));
}

void fixture::preload_call(detail::call call) {
  // Errors are swallowed, and so is a load still waiting for virtual time.
  (void)impl_->client.preload(std::move(call));
  impl_->sched.run();
}

void fixture::clear() {
  impl_->settle(impl_->client.clear());
}

store_info fixture::inspect(std::string_view store_id) const {
  return detail::value_or_throw(impl_->client.inspect(store_id));
}

registry_stats fixture::stats() const {
  return detail::value_or_throw(impl_->client.stats());
}

std::string fixture::metrics() const {
  return detail::value_or_throw(impl_->client.metrics());
}

void fixture::advance(gc_duration d) {
  auto& clock = impl_->sched.clock();
  impl_->sched.run();
  auto target = clock.now() + d;
  for (;;) {
    const auto& schedule = clock.schedule();
    if (schedule.empty() || schedule.begin()->first > target)
      break;
    auto due = schedule.begin()->first;
    if (due > clock.now())
      clock.advance_time(due - clock.now());
    else
      clock.trigger_timeout();
    impl_->sched.run();
  }
  if (target > clock.now())
    clock.advance_time(target - clock.now());
  impl_->sched.run();
}

void fixture::run() {
  impl_->sched.run();
}

gc_duration fixture::elapsed() const {
  return std::chrono::duration_cast<gc_duration>(impl_->sched.clock().now() - impl_->start);
}

caf::actor fixture::registry() const {
  return impl_->client.registry();
}

caf::actor fixture::cluster() const {
  return impl_->node.second;
}

caf::actor_system& fixture::system() const {
  return impl_->sys;
}

}  // namespace multistore::testing
