#pragma once

#include <functional>
#include <utility>

namespace multistore {

/// Keeps a live query subscribed; unsubscribes when destroyed (RAII).
///
///     auto sub = handle.subscribe("SELECT count(*) AS n FROM issues",
///                                 [](const nlohmann::json& rows) { ... });
///     ...
///     sub.cancel();   // or let it go out of scope
///
/// Movable, not copyable. Not thread-safe: cancel from one thread.
class subscription {
 public:
  subscription() = default;
  explicit subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  subscription(subscription&& other) noexcept : cancel_(std::exchange(other.cancel_, nullptr)) {}
  subscription& operator=(subscription&& other) noexcept {
    if (this != &other) {
      cancel();
      cancel_ = std::exchange(other.cancel_, nullptr);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { cancel(); }

  /// Stops the callbacks. Idempotent.
  void cancel() noexcept {
    if (auto fn = std::exchange(cancel_, nullptr)) {
      try {
        fn();
      } catch (...) {  // cancelling must not throw out of a destructor
      }
    }
  }

  bool active() const noexcept { return static_cast<bool>(cancel_); }

 private:
  std::function<void()> cancel_;
};

}  // namespace multistore
