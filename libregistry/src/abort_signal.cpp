#include "multistore/abort_signal.hpp"

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace multistore {

namespace detail {

struct abort_state {
  std::atomic<bool> aborted{false};
  std::mutex mtx;
  std::uint64_t next_token = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;
};

}  // namespace detail

bool abort_signal::aborted() const noexcept {
  return state_ && state_->aborted.load(std::memory_order_acquire);
}

std::uint64_t abort_signal::on_abort(std::function<void()> fn) const {
  if (!state_)
    return 0;
  {
    std::lock_guard guard{state_->mtx};
    if (!state_->aborted.load(std::memory_order_acquire)) {
      auto token = state_->next_token++;
      state_->callbacks.emplace_back(token, std::move(fn));
      return token;
    }
  }
  fn();
  return 0;
}

void abort_signal::remove(std::uint64_t token) const noexcept {
  if (!state_ || token == 0)
    return;
  std::lock_guard guard{state_->mtx};
  std::erase_if(state_->callbacks, [token](const auto& entry) { return entry.first == token; });
}

abort_source::abort_source() : state_(std::make_shared<detail::abort_state>()) {}

void abort_source::abort() {
  std::vector<std::pair<std::uint64_t, std::function<void()>>> due;
  {
    std::lock_guard guard{state_->mtx};
    if (state_->aborted.exchange(true, std::memory_order_acq_rel))
      return;
    due.swap(state_->callbacks);
  }
  // Outside the lock: a callback may register or remove others.
  for (auto& [token, fn] : due)
    fn();
}

}  // namespace multistore
