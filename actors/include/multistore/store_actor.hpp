#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

/// The store actor's message protocol. A store actor owns one store engine;
/// the registry spawns it, opens it, and shuts it down. Everyone else gets
/// its handle from an acquire and talks to it directly:
///
/// | request                                              | answer                     |
/// |------------------------------------------------------|----------------------------|
/// | (commit_atom, std::vector<wire_event>)               | uint64 last sequence number, once durable |
/// | (query_atom, std::string sql, std::string params)    | std::string rows (JSON array text) |
/// | (subscribe_atom, std::string sql, std::string params, caf::actor subscriber) | uint64 subscription id |
/// | (unsubscribe_atom, uint64 id)                        | none (send)                |
/// | (get_atom)                                           | (std::string store_id, uint64 head) |
///
/// `params` is a JSON array text of bound parameters (null, bool, number,
/// string, {"$blob": hex}); "" means none. A subscriber receives
/// (update_atom, uint64 id, std::string rows) first at once, then after each
/// commit that changed the result. Subscriptions end when the subscriber dies.
/// Commits that queue up while the store works share one transaction (group
/// commit); each is still answered on its own and all or nothing, and any
/// other request first commits what was held, so answers follow mailbox order.
/// Errors: `invalid_event`, `storage_failed`, `query_failed`; a dead store
/// answers with CAF's own "receiver down", which the facade reports as
/// `store_disposed`.
namespace multistore {

using commit_atom = caf::atom_constant<caf::atom("commit")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using open_atom = caf::atom_constant<caf::atom("open")>;

/// One event as it travels: its name and its JSON arguments as text.
struct wire_event {
  std::string name;
  std::string args;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_event& x) {
  return f(caf::meta::type_name("multistore::wire_event"), x.name, x.args);
}

}  // namespace multistore
