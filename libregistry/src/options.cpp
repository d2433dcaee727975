#include "multistore/options.hpp"

#include "multistore/store_id.hpp"

namespace multistore {

std::string_view to_string(sync_level level) noexcept {
  switch (level) {
    case sync_level::normal: return "normal";
    case sync_level::full: return "full";
  }
  return "unknown";
}

namespace {

result<void> check_gc_time(const std::optional<gc_duration>& gc_time, std::string_view where) {
  if (gc_time && gc_time->count() < 0)
    return fail(errc::invalid_options, std::string{where} + " gc_time is negative ("
                                           + std::to_string(gc_time->count())
                                           + " ms); use 0, a positive duration or gc_never");
  return {};
}

// Deep merge of JSON objects: keys of `top` win; nested objects merge; any
// other value of `top` (including null) replaces the one below.
nlohmann::json deep_merge(const nlohmann::json& below, const nlohmann::json& top) {
  if (top.is_null())
    return below;
  if (!below.is_object() || !top.is_object())
    return top;
  nlohmann::json out = below;
  for (auto it = top.begin(); it != top.end(); ++it) {
    auto found = out.find(it.key());
    out[it.key()] = found == out.end() ? it.value() : deep_merge(*found, it.value());
  }
  return out;
}

}  // namespace

gc_duration fallback_gc_time(const registry_options& registry) noexcept {
  return registry.default_options.gc_time.value_or(registry.server ? gc_never : default_gc_time);
}

result<void> validate(const registry_options& options) {
  if (options.max_pending_commits == 0)
    return fail(errc::invalid_options,
                "max_pending_commits is 0: a store must be able to hold at least one commit");
  if (options.cluster)
    if (auto ok = validate(*options.cluster); !ok)
      return ok;
  return check_gc_time(options.default_options.gc_time, "default");
}

result<void> validate_call(std::string_view store_id, const std::optional<gc_duration>& gc_time,
                           std::optional<std::string_view> sqlite_directory) {
  // Messages are built only on failure: every acquire passes here.
  if (!is_valid_store_id(store_id))
    return forward_error(parse_store_id(store_id));
  if (gc_time && gc_time->count() < 0)
    return check_gc_time(gc_time, "store '" + std::string{store_id} + "'");
  if (sqlite_directory && sqlite_directory->empty())
    return fail(errc::invalid_options,
                "store '" + std::string{store_id} + "' uses sqlite_adapter without a directory");
  return {};
}

result<void> validate(const call_options& options) {
  const auto* file = std::get_if<sqlite_adapter>(&options.storage);
  if (file == nullptr)
    return validate_call(options.store_id, options.gc_time, std::nullopt);
  const std::string directory = file->directory.string();
  return validate_call(options.store_id, options.gc_time, directory);
}

result<resolved_options> resolve_options(const call_options& call,
                                         const registry_options& registry) {
  if (auto ok = validate(registry); !ok)
    return forward_error(ok);
  if (auto ok = validate(call); !ok)
    return forward_error(ok);
  const auto& defaults = registry.default_options;
  resolved_options out;
  out.store_id = call.store_id;
  out.storage = call.storage;
  out.gc_time = call_gc_time(call.gc_time, registry);
  out.sync_payload = call.sync_payload.is_null() ? defaults.sync_payload : call.sync_payload;
  out.disable_devtools = call.disable_devtools.value_or(defaults.disable_devtools.value_or(false));
  out.confirm_unsaved_changes
      = call.confirm_unsaved_changes.value_or(defaults.confirm_unsaved_changes.value_or(false));
  out.debug = deep_merge(defaults.debug, call.debug);
  out.batch_updates = defaults.batch_updates.value_or(false);
  return out;
}

}  // namespace multistore
