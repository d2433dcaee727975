#pragma once

// Internals shared by the facade, the fixture and the actor API; not part of
// the public API. No CAF here: this header is included by store_handle.hpp.
// (CAF serializes store_request through the inspect of multistore/messages.hpp.)

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/abort_signal.hpp"
#include "multistore/detail/json_text.hpp"
#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/schema.hpp"
#include "multistore/sql_value.hpp"
#include "multistore/store.hpp"
#include "multistore/store_engine.hpp"
#include "multistore/subscription.hpp"

namespace multistore {

/// A use() or preload() call as it travels to the registry (its wire form):
/// the call's options before the registry's layers are applied, its schema by
/// name and its boot callback by token. `make_request` builds it from
/// `store_options`; the registry decodes it once (`to_call_options`).
struct store_request {
  std::string store_id;
  std::string schema;  ///< a key from detail::register_schema: "name#hash"
  bool file = false;   ///< false: memory_adapter; true: sqlite_adapter{directory}
  std::string directory;
  std::uint8_t synchronous = static_cast<std::uint8_t>(sync_level::normal);
  bool has_gc_time = false;
  std::int64_t gc_time_ms = 0;
  std::string sync_payload;  ///< JSON text, empty when unset
  std::string debug;         ///< JSON text, empty when unset
  std::int8_t disable_devtools = -1;  ///< -1 unset, 0 false, 1 true
  std::int8_t confirm_unsaved_changes = -1;
  std::uint64_t boot = 0;  ///< token from detail::stash_boot; 0 for none
  /// The sender becomes the lease's observer (monitored; its death releases).
  bool observe = true;
  std::uint64_t cancel_token = 0;  ///< lets (cancel_atom, token) abort this wait; 0: none

  static constexpr const char* wire_name = "multistore::store_request";
  auto wire_fields() {
    return std::tie(store_id, schema, file, directory, synchronous, has_gc_time, gc_time_ms,
                    sync_payload, debug, disable_devtools, confirm_unsaved_changes, boot, observe,
                    cancel_token);
  }
};

}  // namespace multistore

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

/// The schema-independent options of a request, as the core's option layers
/// take them: with the two functions below, the one place where the wire
/// form is decoded.
call_options to_call_options(const store_request& request);

/// The request's own gc_time (nullopt when it sets none).
std::optional<gc_duration> gc_time_of(const store_request& request);

/// validate(to_call_options(request)) without decoding the rest: a cached
/// acquire checks its call here and decodes nothing else.
result<void> validate(const store_request& request);

template <class Schema>
const std::string& schema_key() {
  static const std::string key = register_schema(schema_of<Schema>());
  return key;
}

inline std::int8_t tri_state(const std::optional<bool>& b) {
  return b ? static_cast<std::int8_t>(*b ? 1 : 0) : std::int8_t{-1};
}

inline std::string optional_json_text(const nlohmann::json& j) {
  return j.is_null() ? std::string{} : json_text(j);
}

/// The wire form of `o`; its boot callback, if any, is stashed for the
/// registry of this process.
template <class Schema>
store_request make_request(const store_options<Schema>& o, bool observe) {
  store_request r;
  r.store_id = o.store_id;
  r.schema = schema_key<Schema>();
  if (const auto* file = std::get_if<sqlite_adapter>(&o.storage)) {
    r.file = true;
    r.directory = file->directory.string();
    r.synchronous = static_cast<std::uint8_t>(file->synchronous);
  }
  r.has_gc_time = o.gc_time.has_value();
  r.gc_time_ms = o.gc_time ? o.gc_time->count() : 0;
  r.sync_payload = optional_json_text(o.sync_payload);
  r.debug = optional_json_text(o.debug);
  r.disable_devtools = tri_state(o.disable_devtools);
  r.confirm_unsaved_changes = tri_state(o.confirm_unsaved_changes);
  if (o.boot) {
    r.boot = stash_boot([boot = o.boot](store_engine& engine) {
      store<Schema> view{engine};
      boot(view);
    });
  }
  r.observe = observe;
  return r;
}

/// A blocking caller's use() or preload(): the request and the abort signal
/// that stays with the caller.
struct call {
  store_request request;
  abort_signal signal;
};

template <class Schema>
call make_call(const store_options<Schema>& o) {
  return call{make_request(o, false), o.signal};
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
