// The process-wide schema catalog and boot stash (what lets messages name a
// schema or a boot callback instead of carrying one), and the decoding of a
// call's wire form.
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "multistore/detail/call.hpp"

namespace multistore::detail {

namespace {

struct catalog {
  std::shared_mutex mtx;
  std::unordered_map<std::string, const schema_def*> schemas;
  std::mutex boot_mtx;
  std::unordered_map<std::uint64_t, boot_fn> boots;
  std::uint64_t next_boot = 1;
};

catalog& the_catalog() {
  static catalog instance;
  return instance;
}

}  // namespace

std::string register_schema(const schema_def& schema) {
  auto key = schema.name() + "#" + schema.hash();
  auto& c = the_catalog();
  std::unique_lock guard{c.mtx};
  c.schemas.emplace(key, &schema);
  return key;
}

const schema_def* find_schema(std::string_view key) {
  auto& c = the_catalog();
  std::shared_lock guard{c.mtx};
  auto i = c.schemas.find(std::string{key});
  return i == c.schemas.end() ? nullptr : i->second;
}

std::uint64_t stash_boot(boot_fn fn) {
  auto& c = the_catalog();
  std::lock_guard guard{c.boot_mtx};
  auto token = c.next_boot++;
  c.boots.emplace(token, std::move(fn));
  return token;
}

boot_fn take_boot(std::uint64_t token) {
  if (token == 0)
    return {};
  auto& c = the_catalog();
  std::lock_guard guard{c.boot_mtx};
  auto i = c.boots.find(token);
  if (i == c.boots.end())
    return {};
  auto fn = std::move(i->second);
  c.boots.erase(i);
  return fn;
}

call_options to_call_options(const store_request& r) {
  auto json_value = [](const std::string& text) -> nlohmann::json {
    if (text.empty())
      return nullptr;
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json{} : j;
  };
  auto untri = [](std::int8_t v) -> std::optional<bool> {
    if (v < 0)
      return std::nullopt;
    return v != 0;
  };
  call_options o;
  o.store_id = r.store_id;
  if (!r.file)
    o.storage = memory_adapter{};
  else
    o.storage = sqlite_adapter{r.directory, static_cast<sync_level>(r.synchronous)};
  o.gc_time = gc_time_of(r);
  o.sync_payload = json_value(r.sync_payload);
  o.debug = json_value(r.debug);
  o.disable_devtools = untri(r.disable_devtools);
  o.confirm_unsaved_changes = untri(r.confirm_unsaved_changes);
  return o;
}

std::optional<gc_duration> gc_time_of(const store_request& r) {
  if (!r.has_gc_time)
    return std::nullopt;
  return gc_duration{r.gc_time_ms};
}

result<void> validate(const store_request& r) {
  return validate_call(r.store_id, gc_time_of(r),
                       r.file ? std::optional<std::string_view>{r.directory} : std::nullopt);
}

}  // namespace multistore::detail
