#include "multistore/store_registry.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "detail/caf_support.hpp"
#include "multistore/registry_actor.hpp"

namespace multistore {

namespace detail {

std::uint64_t next_cancel_token() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

result<std::shared_ptr<lease>> acquire_lease(const std::shared_ptr<const requester>& req,
                                             const caf::actor& registry, call c) {
  if (c.signal.aborted()) {
    take_boot(c.boot);
    return fail(errc::cancelled, "use of store '" + c.options.store_id + "' was aborted");
  }
  auto request = to_request(c.options, c.schema_key, c.boot, false);
  request.cancel_token = c.signal.can_abort() ? next_cancel_token() : 0;
  auto callback = c.signal.on_abort(
      [req, registry, token = request.cancel_token] { req->send(registry, cancel_atom::value, token); });
  auto r = req->request<caf::actor, std::uint64_t, std::uint64_t>(
      registry, errc::registry_closed, acquire_atom::value, std::move(request));
  c.signal.remove(callback);
  if (!r) {
    take_boot(c.boot);  // drops it if the registry never took it
    return tl::unexpected(r.error());
  }
  auto& [store, lease_id, instance] = *r;
  (void)instance;
  return std::make_shared<lease>(req, registry, std::move(store), c.options.store_id, lease_id);
}

}  // namespace detail

namespace {

struct installed {
  std::mutex mtx;
  std::unordered_map<caf::actor_system*, store_registry*> by_system;
};

installed& installed_registries() {
  static installed instance;
  return instance;
}

/// Asks the registry and fulfils a std::promise from an actor, so no thread
/// waits for a preload or clear nobody looks at. (A function with arguments,
/// not a capturing lambda: CAF 0.17 dereferences a null argument tuple when
/// spawning a function without arguments, which UBSan reports.)
void ask_impl(caf::event_based_actor* self, caf::actor registry,
              std::shared_ptr<std::promise<void>> promise, bool swallow, caf::message request) {
  self->request(registry, caf::infinite, std::move(request))
      .then([promise](caf::ok_atom) { promise->set_value(); },
            [promise, swallow](caf::error& err) {
              if (swallow)
                promise->set_value();
              else
                promise->set_exception(std::make_exception_ptr(
                    store_error(detail::from_caf_error(err, errc::registry_closed))));
            });
}

std::future<void> ask(caf::actor_system& sys, const caf::actor& registry, bool swallow,
                      caf::message request) {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  sys.spawn(ask_impl, registry, std::move(promise), swallow, std::move(request));
  return future;
}

}  // namespace

struct store_registry::impl {
  caf::actor_system& sys;
  std::shared_ptr<const detail::requester> req;
  caf::actor registry;
};

store_registry::store_registry(caf::actor_system& sys, registry_options options,
                               std::shared_ptr<spdlog::logger> logger) {
  if (auto ok = validate(options); !ok)
    throw store_error(ok.error());
  impl_ = std::make_unique<impl>(impl{sys, std::make_shared<detail::requester>(sys),
                                      spawn_registry(sys, std::move(options), std::move(logger))});
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
  caf::scoped_actor self{impl_->sys};
  self->request(impl_->registry, caf::infinite, shutdown_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(impl_->registry, caf::exit_reason::user_shutdown);
  self->wait_for(impl_->registry);
}

std::shared_ptr<detail::lease> store_registry::acquire(detail::call call) {
  auto r = detail::acquire_lease(impl_->req, impl_->registry, std::move(call));
  if (!r)
    throw store_error(r.error());
  return std::move(*r);
}

std::future<void> store_registry::preload_call(detail::call call) {
  auto request = to_request(call.options, call.schema_key, call.boot, false);
  return ask(impl_->sys, impl_->registry, true,
             caf::make_message(preload_atom::value, std::move(request)));
}

std::future<void> store_registry::clear() {
  return ask(impl_->sys, impl_->registry, false, caf::make_message(clear_atom::value));
}

store_info store_registry::inspect(std::string_view store_id) const {
  auto r = impl_->req->request<store_info_msg>(impl_->registry, errc::registry_closed,
                                               inspect_atom::value, std::string{store_id});
  if (!r)
    throw store_error(r.error());
  return from_msg(std::get<0>(*r));
}

registry_stats store_registry::stats() const {
  auto r = impl_->req->request<stats_msg>(impl_->registry, errc::registry_closed,
                                          stats_atom::value);
  if (!r)
    throw store_error(r.error());
  return from_msg(std::get<0>(*r));
}

caf::actor store_registry::actor() const {
  return impl_->registry;
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
