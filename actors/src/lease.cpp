#include "detail/lease.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "multistore/detail/json_text.hpp"
#include "multistore/messages.hpp"

namespace multistore::detail {

namespace {

result<void> check(const lease& l) {
  if (l.released())
    return fail(errc::store_disposed, "the lease on store '" + l.store_id() + "' was released");
  return {};
}

/// Turns (update_atom, id, rows) messages into calls of `fn`; quits with the store.
caf::behavior subscriber_impl(caf::event_based_actor* self, store_actor_type store,
                              std::function<void(const nlohmann::json&)> fn) {
  self->monitor(store);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
      [fn = std::move(fn)](update_atom, std::uint64_t, const std::string& rows) {
        auto parsed = nlohmann::json::parse(rows, nullptr, false);
        if (!parsed.is_discarded())
          fn(parsed);
      },
  };
}

/// Bound parameters as the store's protocol carries them.
std::string params_text(const std::vector<sql_value>& params) {
  return params.empty() ? std::string{} : json_text(params_to_json(params));
}

}  // namespace

const std::string& store_id_of(const lease& l) noexcept {
  return l.store_id();
}

result<std::uint64_t> commit(lease& l, std::vector<event_record> events) {
  if (auto ok = check(l); !ok)
    return forward_error(ok);
  std::vector<wire_event> wire;
  wire.reserve(events.size());
  for (auto& e : events) {
    auto args = strict_json_text(e.args);
    if (!args)
      return forward_error(args);
    wire.push_back(wire_event{std::move(e.name), std::move(*args)});
  }
  auto r = l.req().request(l.store(), errc::store_disposed, commit_atom::value, std::move(wire));
  if (!r)
    return forward_error(r);
  return std::get<0>(*r);
}

result<nlohmann::json> query(const lease& l, std::string_view sql,
                             std::vector<sql_value> params) {
  if (auto ok = check(l); !ok)
    return forward_error(ok);
  auto r = l.req().request(l.store(), errc::store_disposed, query_atom::value, std::string{sql},
                            params_text(params));
  if (!r)
    return forward_error(r);
  return nlohmann::json::parse(std::get<0>(*r));
}

result<subscription> subscribe(lease& l, std::string sql, std::vector<sql_value> params,
                               std::function<void(const nlohmann::json&)> fn) {
  if (auto ok = check(l); !ok)
    return forward_error(ok);
  auto& sys = l.req().system();
  auto subscriber = sys.spawn(subscriber_impl, l.store(), std::move(fn));
  auto r = l.req().request(l.store(), errc::store_disposed, subscribe_atom::value, std::move(sql),
                            params_text(params), subscriber);
  if (!r) {
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
    l.req().settle();
    return forward_error(r);
  }
  // The subscription may outlive the lease: it keeps the requester alive.
  return subscription{[req = l.req_ptr(), store = l.store(), subscriber, id = std::get<0>(*r)] {
    req->send(store, unsubscribe_atom::value, id);
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
    req->settle();
  }};
}

void release(lease& l) noexcept {
  if (l.released())
    return;
  l.mark_released();
  try {
    l.req().send(l.registry(), release_atom::value, l.id());
    l.req().settle();
  } catch (...) {  // release runs in destructors; the registry may be gone
  }
}

}  // namespace multistore::detail
