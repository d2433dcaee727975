#pragma once

// CAF-side internals: error conversion, the store actor's spawn, the requester
// used by blocking callers and the fixture, and the lease behind a handle.

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <tuple>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "multistore/detail/call.hpp"
#include "multistore/detail/json_text.hpp"
#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/schema.hpp"
#include "multistore/store_engine.hpp"

namespace spdlog {
class logger;
}

namespace multistore::detail {

/// The error category of multistore's `caf::error`s.
inline constexpr caf::atom_value error_category = caf::atom("multistore");

/// errc + message as a `caf::error` (the message travels in the context).
caf::error to_caf_error(errc code, std::string message);
caf::error to_caf_error(const error& err);

/// Back to the core's error: ours keep code and message; CAF's own "receiver
/// down" and "request timeout" mean the store or registry is gone.
error from_caf_error(const caf::error& err, errc gone = errc::store_disposed);

/// What a store actor needs to open its engine.
struct store_spawn_args {
  const schema_def* schema = nullptr;
  std::string store_id;
  adapter storage;
  std::string session_id;
  std::string client_id;  ///< for memory stores; file stores read <dir>/.client-id
  boot_fn boot;
  std::shared_ptr<spdlog::logger> logger;
};

/// Spawns a store actor; it opens its engine on (open_atom) and answers ok
/// or the load error (after which it exits).
caf::actor spawn_store(caf::actor_system& sys, store_spawn_args args);

/// Sends requests and waits for their answers, either blocking the calling
/// thread (a fresh scoped actor per call) or, for the deterministic fixture,
/// running the test scheduler until the answer is there.
class requester {
 public:
  explicit requester(caf::actor_system& sys) : sys_(sys) {}
  requester(caf::actor_system& sys, caf::scheduler::test_coordinator& sched,
            caf::scoped_actor& self)
      : sys_(sys), sched_(&sched), self_(&self) {}

  caf::actor_system& system() const noexcept { return sys_; }

  /// Runs the fixture's scheduler (no-op for a blocking requester).
  void settle() const {
    if (sched_)
      sched_->run();
  }

  /// Requests `xs...` from `dest`; the answer is `Rs...`.
  template <class... Rs, class... Ts>
  result<std::tuple<Rs...>> request(const caf::actor& dest, errc gone, Ts&&... xs) const {
    if (!dest)
      return fail(gone, "no actor to send to");
    if (self_)
      return request_with<Rs...>(*self_, dest, gone, std::forward<Ts>(xs)...);
    auto self = borrow();
    auto out = request_with<Rs...>(*self, dest, gone, std::forward<Ts>(xs)...);
    give_back(std::move(self));
    return out;
  }

  /// Sends without waiting for an answer.
  template <class... Ts>
  void send(const caf::actor& dest, Ts&&... xs) const {
    if (dest)
      caf::anon_send(dest, std::forward<Ts>(xs)...);
  }

 private:
  template <class... Rs, class... Ts>
  result<std::tuple<Rs...>> request_with(caf::scoped_actor& self, const caf::actor& dest,
                                         errc gone, Ts&&... xs) const {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    if (sched_) {
      sched_->run();
      if (self->mailbox().empty())
        return fail(errc::cancelled,
                    "no answer while the fixture is idle: the call waits for virtual time "
                    "(advance the clock) or for a load that never finishes");
    }
    result<std::tuple<Rs...>> out = fail(gone, "no answer");
    handle.receive([&](Rs&... rs) { out = std::make_tuple(std::move(rs)...); },
                   [&](caf::error& err) { out = tl::unexpected(from_caf_error(err, gone)); });
    return out;
  }

  // Blocking callers reuse scoped actors: creating one per call costs more
  // than the round trip itself. Hidden, so a pooled one never delays the
  // actor system's shutdown.
  std::unique_ptr<caf::scoped_actor> borrow() const {
    {
      std::lock_guard guard{pool_mtx_};
      if (!pool_.empty()) {
        auto self = std::move(pool_.back());
        pool_.pop_back();
        return self;
      }
    }
    return std::make_unique<caf::scoped_actor>(sys_, true);
  }

  void give_back(std::unique_ptr<caf::scoped_actor> self) const {
    std::lock_guard guard{pool_mtx_};
    if (pool_.size() < max_pooled)
      pool_.push_back(std::move(self));
  }

  static constexpr std::size_t max_pooled = 16;

  caf::actor_system& sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  caf::scoped_actor* self_ = nullptr;
  mutable std::mutex pool_mtx_;
  mutable std::vector<std::unique_ptr<caf::scoped_actor>> pool_;
};

}  // namespace multistore::detail

namespace multistore::detail {

/// The lease behind a store_handle: which store, which lease, and how to talk.
class lease {
 public:
  lease(std::shared_ptr<const requester> req, caf::actor registry, caf::actor store,
        std::string store_id, std::uint64_t lease_id)
      : req_(std::move(req)),
        registry_(std::move(registry)),
        store_(std::move(store)),
        store_id_(std::move(store_id)),
        lease_id_(lease_id) {}

  const requester& req() const noexcept { return *req_; }
  const std::shared_ptr<const requester>& req_ptr() const noexcept { return req_; }
  const caf::actor& registry() const noexcept { return registry_; }
  const caf::actor& store() const noexcept { return store_; }
  const std::string& store_id() const noexcept { return store_id_; }
  std::uint64_t id() const noexcept { return lease_id_; }
  bool released() const noexcept { return released_; }
  void mark_released() noexcept { released_ = true; }

 private:
  std::shared_ptr<const requester> req_;
  caf::actor registry_;
  caf::actor store_;
  std::string store_id_;
  std::uint64_t lease_id_;
  bool released_ = false;
};

}  // namespace multistore::detail

namespace multistore::detail {

/// Acquires through `registry` for a caller that releases explicitly (not
/// monitored): the blocking facade and the fixture.
result<std::shared_ptr<lease>> acquire_lease(const std::shared_ptr<const requester>& req,
                                             const caf::actor& registry, call c);

/// A fresh token for (cancel_atom, token): unique within the process.
std::uint64_t next_cancel_token();

}  // namespace multistore::detail
