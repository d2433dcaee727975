#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/send.hpp>

#include "multistore/detail/call.hpp"
#include "multistore/detail/json_text.hpp"
#include "multistore/messages.hpp"
#include "multistore/registry_actor.hpp"

/// Using the registry from inside an event-based actor, without blocking.
///
///     multistore::acquire_store(self, registry, issue_options("issue-1"),
///         [=](multistore::acquired_store<issue_schema> s) {
///           self->request(s.store, caf::infinite, multistore::commit_atom::value,
///                         s.events(issue_created{...}))
///               .then([=](std::uint64_t seq) { multistore::release_store(self, registry, s); });
///         },
///         [](const multistore::error& err) { ... });
///
/// The acquiring actor is the lease's observer: if it dies, the registry
/// releases its leases.
namespace multistore {

/// A store acquired by an actor: the store actor to talk to, and the lease.
template <class Schema>
struct acquired_store {
  caf::actor store;
  std::uint64_t lease = 0;
  std::string store_id;

  /// Events as a commit message's payload; each must be in Schema::events.
  /// Throws `store_error{invalid_event}` for strings that are not valid UTF-8.
  template <class... Events>
  static std::vector<wire_event> events(const Events&... es) {
    static_assert(sizeof...(Events) > 0, "multistore: commit needs at least one event");
    static_assert((schema_has_event_v<Schema, Events> && ...),
                  "multistore: this event type is not in the schema's events list");
    std::vector<wire_event> out;
    out.reserve(sizeof...(Events));
    for (auto& r : encode_events(es...)) {
      auto args = detail::strict_json_text(r.args);
      if (!args)  // invalid UTF-8 in a string field
        throw store_error(args.error());
      out.push_back(wire_event{std::move(r.name), std::move(*args)});
    }
    return out;
  }
};

/// The acquire/preload message for `options` (its boot callback is stashed
/// for the registry of this process).
template <class Schema>
store_request make_store_request(const store_options<Schema>& options, bool observe = true) {
  return detail::make_request(options, observe);
}

/// Acquires a typed store for `self`; calls `on_ready(acquired_store<Schema>)`
/// or `on_error(const multistore::error&)` from `self`'s context.
template <class Self, class Schema, class OnReady, class OnError>
void acquire_store(Self* self, const caf::actor& registry, const store_options<Schema>& options,
                   OnReady on_ready, OnError on_error) {
  self->request(registry, caf::infinite, acquire_atom::value, make_store_request(options))
      .then(
          [on_ready, id = options.store_id](caf::actor& store, std::uint64_t lease,
                                            std::uint64_t) mutable {
            on_ready(acquired_store<Schema>{std::move(store), lease, std::move(id)});
          },
          [on_error](caf::error& err) mutable { on_error(to_error(err, errc::registry_closed)); });
}

/// Ends the lease (idempotent on the registry's side).
template <class Self, class Schema>
void release_store(Self* self, const caf::actor& registry, const acquired_store<Schema>& s) {
  self->send(registry, release_atom::value, s.lease);
}

}  // namespace multistore
