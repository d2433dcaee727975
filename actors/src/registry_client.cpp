#include "detail/registry_client.hpp"

#include <atomic>

#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>

#include "multistore/placement.hpp"

namespace multistore::detail {

namespace {

/// A fresh token for (cancel_atom, token): unique within the process.
std::uint64_t next_cancel_token() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

/// Asks the registry and fulfils a std::promise from an actor. (A function
/// with arguments, not a capturing lambda: CAF 0.17 dereferences a null
/// argument tuple when spawning a function without arguments, which UBSan
/// reports.)
void ask_impl(caf::event_based_actor* self, caf::actor registry,
              std::shared_ptr<std::promise<void>> promise, bool swallow, caf::message request) {
  self->request(registry, caf::infinite, std::move(request))
      .then([promise](caf::ok_atom) { promise->set_value(); },
            [promise, swallow](caf::error& err) {
              if (swallow)
                promise->set_value();
              else
                promise->set_exception(
                    std::make_exception_ptr(store_error(to_error(err, errc::registry_closed))));
            });
}

}  // namespace

registry_client::registry_client(std::shared_ptr<const requester> req, caf::actor registry)
    : req_(std::move(req)),
      registry_(std::move(registry)),
      typed_(caf::actor_cast<registry_actor_type>(registry_)) {}

void registry_client::route_remote(caf::actor cluster, std::vector<cluster_member> members,
                                   std::string self) {
  cluster_ = caf::actor_cast<registry_actor_type>(std::move(cluster));
  members_ = std::move(members);
  while (members_[self_index_].name != self)
    ++self_index_;
}

const registry_actor_type& registry_client::route(std::string_view store_id) const {
  if (cluster_ && owner_index(store_id, members_) != self_index_)
    return cluster_;
  return typed_;
}

result<std::shared_ptr<lease>> registry_client::acquire(call c) const {
  auto& request = c.request;
  const auto& dest = route(request.store_id);
  if (c.signal.aborted()) {
    take_boot(request.boot);
    return fail(errc::cancelled, "use of store '" + request.store_id + "' was aborted");
  }
  request.cancel_token = c.signal.can_abort() ? next_cancel_token() : 0;
  auto callback = c.signal.on_abort([req = req_, registry = dest, token = request.cancel_token] {
    req->send(registry, cancel_atom::value, token);
  });
  auto store_id = request.store_id;
  auto boot = request.boot;
  auto r = req_->request(dest, errc::registry_closed, acquire_atom::value, std::move(request));
  c.signal.remove(callback);
  if (!r) {
    take_boot(boot);  // drops it if the registry never took it
    return forward_error(r);
  }
  auto& [store, lease_id, instance] = *r;
  (void)instance;
  return std::make_shared<lease>(req_, dest, caf::actor_cast<store_actor_type>(store),
                                 std::move(store_id), lease_id);
}

std::future<void> registry_client::preload(call c) const {
  return ask(true, caf::make_message(preload_atom::value, std::move(c.request)));
}

std::future<void> registry_client::clear() const {
  return ask(false, caf::make_message(clear_atom::value));
}

std::future<void> registry_client::ask(bool swallow, caf::message request) const {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  req_->system().spawn(ask_impl, registry_, std::move(promise), swallow, std::move(request));
  return future;
}

result<store_info> registry_client::inspect(std::string_view store_id) const {
  auto r = req_->request(typed_, errc::registry_closed, inspect_atom::value,
                         std::string{store_id});
  if (!r)
    return forward_error(r);
  return from_msg(std::get<0>(*r));
}

result<registry_stats> registry_client::stats() const {
  auto r = req_->request(typed_, errc::registry_closed, stats_atom::value);
  if (!r)
    return forward_error(r);
  return from_msg(std::get<0>(*r));
}

result<std::string> registry_client::metrics() const {
  auto r = req_->request(typed_, errc::registry_closed, metrics_atom::value);
  if (!r)
    return forward_error(r);
  return std::move(std::get<0>(*r));
}

}  // namespace multistore::detail
