#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/response_type.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "multistore/errors.hpp"
#include "multistore/registry_actor.hpp"

namespace multistore::detail {

/// The answer type of sending `Ts...` to an actor of interface `Handle`.
template <class Handle, class... Ts>
using answer_t =
    typename caf::response_type<typename Handle::signatures, std::decay_t<Ts>...>::tuple_type;

/// Sends requests to typed actors and waits for their answers, either
/// blocking the calling thread (a pooled scoped actor per call) or, for the
/// deterministic fixture, running its scheduler (`run`) until the answer is
/// there. Thread-safe in blocking mode.
class requester {
 public:
  /// Blocking mode.
  explicit requester(caf::actor_system& sys) : sys_(sys) {}

  /// Fixture mode: `self` sends, `run` runs the scheduler until idle.
  requester(caf::actor_system& sys, caf::scoped_actor& self, std::function<void()> run)
      : sys_(sys), self_(&self), run_(std::move(run)) {}

  caf::actor_system& system() const noexcept { return sys_; }

  /// Lets the fixture's scheduler handle what was sent (no-op when blocking).
  void settle() const {
    if (run_)
      run_();
  }

  /// Requests `xs...` from `dest`; the answer's types follow from its interface.
  template <class Handle, class... Ts>
  result<answer_t<Handle, Ts...>> request(const Handle& dest, errc gone, Ts&&... xs) const {
    if (!dest)
      return fail(gone, "no actor to send to");
    if (self_)
      return request_with(*self_, dest, gone, std::forward<Ts>(xs)...);
    auto self = borrow();
    auto out = request_with(*self, dest, gone, std::forward<Ts>(xs)...);
    give_back(std::move(self));
    return out;
  }

  /// Sends without waiting for an answer.
  template <class Handle, class... Ts>
  void send(const Handle& dest, Ts&&... xs) const {
    if (dest)
      caf::anon_send(dest, std::forward<Ts>(xs)...);
  }

 private:
  template <class Handle, class... Ts>
  result<answer_t<Handle, Ts...>> request_with(caf::scoped_actor& self, const Handle& dest,
                                               errc gone, Ts&&... xs) const {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    if (run_) {
      run_();
      if (self->mailbox().empty())
        return fail(errc::cancelled,
                    "no answer while the fixture is idle: the call waits for virtual time "
                    "(advance the clock) or for a load that never finishes");
    }
    return receive(handle, gone, static_cast<answer_t<Handle, Ts...>*>(nullptr));
  }

  template <class Handle, class... Rs>
  static result<std::tuple<Rs...>> receive(Handle& handle, errc gone, std::tuple<Rs...>*) {
    result<std::tuple<Rs...>> out = fail(gone, "no answer");
    handle.receive([&](Rs&... rs) { out = std::make_tuple(std::move(rs)...); },
                   [&](caf::error& err) { out = tl::unexpected(to_error(err, gone)); });
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
  caf::scoped_actor* self_ = nullptr;
  std::function<void()> run_;
  mutable std::mutex pool_mtx_;
  mutable std::vector<std::unique_ptr<caf::scoped_actor>> pool_;
};

}  // namespace multistore::detail
