#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "detail/caf_support.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/store_actor.hpp"

namespace multistore::detail {

namespace {

result<void> check(const lease& l) {
  if (l.released())
    return fail(errc::store_disposed, "the lease on store '" + l.store_id() + "' was released");
  return {};
}

/// Turns (update_atom, id, rows) messages into calls of `fn`; quits with the store.
caf::behavior subscriber_impl(caf::event_based_actor* self, caf::actor store,
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

}  // namespace

const std::string& store_id_of(const lease& l) noexcept {
  return l.store_id();
}

result<std::uint64_t> commit(lease& l, std::vector<event_record> events) {
  if (auto ok = check(l); !ok)
    return tl::unexpected(ok.error());
  std::vector<wire_event> wire;
  wire.reserve(events.size());
  for (auto& e : events) {
    auto args = strict_json_text(e.args);
    if (!args)
      return tl::unexpected(args.error());
    wire.push_back(wire_event{std::move(e.name), std::move(*args)});
  }
  auto r = l.req().request<std::uint64_t>(l.store(), errc::store_disposed, commit_atom::value,
                                          std::move(wire));
  if (!r)
    return tl::unexpected(r.error());
  return std::get<0>(*r);
}

result<nlohmann::json> query(const lease& l, std::string_view sql,
                             std::vector<sql_value> params) {
  if (auto ok = check(l); !ok)
    return tl::unexpected(ok.error());
  auto r = l.req().request<std::string>(l.store(), errc::store_disposed, query_atom::value,
                                        std::string{sql},
                                        params.empty() ? std::string{}
                                                       : json_text(params_to_json(params)));
  if (!r)
    return tl::unexpected(r.error());
  return nlohmann::json::parse(std::get<0>(*r));
}

result<subscription> subscribe(lease& l, std::string sql, std::vector<sql_value> params,
                               std::function<void(const nlohmann::json&)> fn) {
  if (auto ok = check(l); !ok)
    return tl::unexpected(ok.error());
  auto& sys = l.req().system();
  auto subscriber = sys.spawn(subscriber_impl, l.store(), std::move(fn));
  auto r = l.req().request<std::uint64_t>(
      l.store(), errc::store_disposed, subscribe_atom::value, std::move(sql),
      params.empty() ? std::string{} : json_text(params_to_json(params)), subscriber);
  if (!r) {
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
    l.req().settle();
    return tl::unexpected(r.error());
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
