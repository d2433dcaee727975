#pragma once

// The baseline of the "cached acquire+release" measures: the registry a
// program without actors would write. Bench only; not part of the library.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace multistore::bench {

/// One mutex over an unordered_map of loaded stores plus a lease table: the
/// cached path of a registry (find the store, count the observer, hand out a
/// lease; release uncounts it) with nothing else. Loading, GC timers and
/// disposal are left out, because the measure only takes the cached path with
/// every store held by an observer, exactly like the multistore side.
///
///     mutex_registry<store_engine> reg;
///     reg.insert("issue-1", engine);
///     auto l = reg.acquire("issue-1");   // std::optional<lease>
///     reg.release(l->id);
///
/// Thread-safe: any thread may call any member.
template <class Store>
class mutex_registry {
 public:
  struct lease {
    std::shared_ptr<Store> store;
    std::uint64_t id = 0;
  };

  /// Adds a loaded store with `observers` observers already holding it.
  void insert(std::string id, std::shared_ptr<Store> store, std::size_t observers = 1) {
    std::lock_guard guard{mtx_};
    entries_.insert_or_assign(std::move(id), entry{std::move(store), observers});
  }

  /// The cached path: the store and a fresh lease, or nullopt when `id` is not loaded.
  std::optional<lease> acquire(std::string_view id) {
    std::lock_guard guard{mtx_};
    auto i = entries_.find(id);
    if (i == entries_.end())
      return std::nullopt;
    auto& e = i->second;
    ++e.observers;
    auto lease_id = ++last_lease_;
    leases_.emplace(lease_id, &e);
    return lease{e.store, lease_id};
  }

  /// Ends a lease; unknown ids are ignored (idempotent, like the registry's).
  void release(std::uint64_t lease_id) {
    std::lock_guard guard{mtx_};
    auto i = leases_.find(lease_id);
    if (i == leases_.end())
      return;
    --i->second->observers;  // a real registry would arm the GC timer at 0
    leases_.erase(i);
  }

 private:
  struct entry {
    std::shared_ptr<Store> store;
    std::size_t observers = 0;
  };

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  std::mutex mtx_;
  // Node-based: `entry*` in the lease table stays valid across rehashes.
  std::unordered_map<std::string, entry, string_hash, std::equal_to<>> entries_;
  std::unordered_map<std::uint64_t, entry*> leases_;
  std::uint64_t last_lease_ = 0;
};

}  // namespace multistore::bench
