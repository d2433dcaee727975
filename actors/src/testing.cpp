#include "multistore/testing.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/logger.h>

#include "detail/caf_support.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/system_setup.hpp"

namespace multistore::testing {

namespace {

caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
  configure(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  return cfg;
}

}  // namespace

struct fixture::impl {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::shared_ptr<const detail::requester> req;
  caf::actor registry;
  caf::actor_clock::time_point start;

  explicit impl(registry_options options)
      : sys(testing_config(cfg)),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys, true),
        req(std::make_shared<detail::requester>(sys, sched, self)),
        // A logger without sinks: tests stay quiet; pass one to see the trace.
        registry(spawn_registry(sys, std::move(options),
                                std::make_shared<spdlog::logger>("multistore.fixture"))),
        start(sched.clock().now()) {
    sched.run();
  }

  ~impl() {
    self->send(registry, shutdown_atom::value);
    sched.run();
    self->send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
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
  auto r = detail::acquire_lease(impl_->req, impl_->registry, std::move(call));
  if (!r)
    throw store_error(r.error());
  return std::move(*r);
}

void fixture::preload_call(detail::call call) {
  auto request = to_request(call.options, call.schema_key, call.boot, false);
  // Errors are swallowed, as the facade's preload does.
  (void)impl_->req->request<caf::ok_atom>(impl_->registry, errc::registry_closed,
                                          preload_atom::value, std::move(request));
}

void fixture::clear() {
  auto r = impl_->req->request<caf::ok_atom>(impl_->registry, errc::registry_closed,
                                             clear_atom::value);
  if (!r)
    throw store_error(r.error());
}

store_info fixture::inspect(std::string_view store_id) const {
  auto r = impl_->req->request<store_info_msg>(impl_->registry, errc::registry_closed,
                                               inspect_atom::value, std::string{store_id});
  if (!r)
    throw store_error(r.error());
  return from_msg(std::get<0>(*r));
}

registry_stats fixture::stats() const {
  auto r = impl_->req->request<stats_msg>(impl_->registry, errc::registry_closed,
                                          stats_atom::value);
  if (!r)
    throw store_error(r.error());
  return from_msg(std::get<0>(*r));
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
  return impl_->registry;
}

caf::actor_system& fixture::system() const {
  return impl_->sys;
}

}  // namespace multistore::testing
