#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace multistore {

namespace detail {
struct abort_state;
}

/// Lets a caller give up waiting for a store (the seed's AbortSignal). Copies
/// share one state; a default-constructed signal never aborts.
///
///     multistore::abort_source cancel;
///     auto opts = issue_options("issue-1");
///     opts.signal = cancel.signal();
///     ...                 // from any thread:
///     cancel.abort();     // the waiting use() throws store_error{cancelled}
///
/// Thread-safe: abort() and the callbacks may run on any thread.
class abort_signal {
 public:
  abort_signal() = default;

  /// False for a default-constructed signal, which never aborts.
  bool can_abort() const noexcept { return static_cast<bool>(state_); }

  /// True once the owning source aborted.
  bool aborted() const noexcept;

  /// Calls `fn` once when the source aborts (at once if it already has).
  /// Returns a token for `remove`; 0 when `fn` ran at once or can never run.
  std::uint64_t on_abort(std::function<void()> fn) const;

  /// Forgets a callback registered with `on_abort`; no-op for an unknown token.
  void remove(std::uint64_t token) const noexcept;

 private:
  friend class abort_source;
  explicit abort_signal(std::shared_ptr<detail::abort_state> state) : state_(std::move(state)) {}

  std::shared_ptr<detail::abort_state> state_;
};

/// Owns the right to abort; hands out signals.
class abort_source {
 public:
  abort_source();

  abort_signal signal() const { return abort_signal{state_}; }

  /// Marks every signal of this source aborted and runs their callbacks once.
  void abort();

 private:
  std::shared_ptr<detail::abort_state> state_;
};

}  // namespace multistore
