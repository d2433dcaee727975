#pragma once

// Internals shared by the facade, the fixture and the actor API; not part of
// the public API. No CAF here: this header is included by store_handle.hpp.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/abort_signal.hpp"
#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/schema.hpp"
#include "multistore/sql_value.hpp"
#include "multistore/store.hpp"
#include "multistore/store_engine.hpp"
#include "multistore/subscription.hpp"

namespace multistore::detail {

/// A boot callback with its schema erased: builds the typed view and calls it.
using boot_fn = std::function<void(store_engine&)>;

/// Makes the schema known process-wide and returns its key ("name#hash"),
/// which is what travels in messages (schemas are never sent, only named).
std::string register_schema(const schema_def& schema);

/// The schema registered under `key`, or nullptr.
const schema_def* find_schema(std::string_view key);

/// Keeps `fn` until a registry takes it; returns its token (never 0).
/// Callbacks cannot travel in messages: only this token does, so only a
/// registry in this process can run a boot.
std::uint64_t stash_boot(boot_fn fn);

/// Removes and returns the boot stashed under `token` (empty if none).
boot_fn take_boot(std::uint64_t token);

/// A use() or preload() call with its schema erased.
struct call {
  call_options options;
  std::string schema_key;
  std::uint64_t boot = 0;
  abort_signal signal;
};

template <class Schema>
const std::string& schema_key() {
  static const std::string key = register_schema(schema_of<Schema>());
  return key;
}

template <class Schema>
call make_call(const store_options<Schema>& o) {
  call c{call_options_of(o), schema_key<Schema>(), 0, o.signal};
  if (o.boot) {
    c.boot = stash_boot([boot = o.boot](store_engine& engine) {
      store<Schema> view{engine};
      boot(view);
    });
  }
  return c;
}

/// One observer lease on a loaded store, shared by a handle and its copies of
/// the connection to the actor system. Defined in the actor layer.
class lease;

const std::string& store_id_of(const lease& l) noexcept;
result<std::uint64_t> commit(lease& l, std::vector<event_record> events);
result<nlohmann::json> query(const lease& l, std::string_view sql, std::vector<sql_value> params);
result<subscription> subscribe(lease& l, std::string sql, std::vector<sql_value> params,
                               std::function<void(const nlohmann::json&)> fn);
/// Ends the lease (idempotent; a no-op after clear()).
void release(lease& l) noexcept;

template <class T>
T value_or_throw(result<T>&& r) {
  if (!r)
    throw store_error(r.error());
  return std::move(*r);
}

}  // namespace multistore::detail
