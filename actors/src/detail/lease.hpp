#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "detail/requester.hpp"
#include "multistore/detail/call.hpp"
#include "multistore/messages.hpp"

namespace multistore::detail {

/// The lease behind a store_handle: which store, which lease, and how to talk.
class lease {
 public:
  lease(std::shared_ptr<const requester> req, registry_actor_type registry,
        store_actor_type store, std::string store_id, std::uint64_t lease_id)
      : req_(std::move(req)),
        registry_(std::move(registry)),
        store_(std::move(store)),
        store_id_(std::move(store_id)),
        lease_id_(lease_id) {}

  const requester& req() const noexcept { return *req_; }
  const std::shared_ptr<const requester>& req_ptr() const noexcept { return req_; }
  const registry_actor_type& registry() const noexcept { return registry_; }
  const store_actor_type& store() const noexcept { return store_; }
  const std::string& store_id() const noexcept { return store_id_; }
  std::uint64_t id() const noexcept { return lease_id_; }
  bool released() const noexcept { return released_; }
  void mark_released() noexcept { released_ = true; }

 private:
  std::shared_ptr<const requester> req_;
  registry_actor_type registry_;
  store_actor_type store_;
  std::string store_id_;
  std::uint64_t lease_id_;
  bool released_ = false;
};

}  // namespace multistore::detail
