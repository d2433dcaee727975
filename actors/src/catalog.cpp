// The process-wide schema catalog and boot stash: what lets messages name a
// schema or a boot callback instead of carrying one.
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

}  // namespace multistore::detail
