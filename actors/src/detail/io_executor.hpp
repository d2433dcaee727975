#pragma once

// Where a store's engine work runs: off CAF's scheduler threads, on a bounded
// pool of I/O threads, or inline for the deterministic fixture. No CAF here.

#include <cstddef>
#include <functional>
#include <memory>

namespace multistore::detail {

/// Runs jobs. A store posts at most one job at a time (the next only after
/// the previous one answered), so no store ever holds more than one thread
/// and a store's jobs run one after another, in the order it posted them.
class io_executor {
 public:
  virtual ~io_executor() = default;
  /// Runs `job` soon, on some thread of the executor; never throws.
  virtual void post(std::function<void()> job) = 0;
};

/// A pool of `threads` threads (at least 1) taking jobs first in, first out.
/// Its destructor lets the jobs still queued run, then joins the threads
/// (destroyed from one of its own jobs, it lets that thread end by itself).
/// Jobs must not throw.
std::shared_ptr<io_executor> make_io_pool(std::size_t threads);

/// Runs each job at once on the posting thread: what the deterministic
/// fixture uses, so that its scheduler alone orders everything.
std::shared_ptr<io_executor> make_inline_executor();

/// The pool size `io_threads` asks for: itself, or for 0 twice the core
/// count, at least 2 and at most 16 (SQLite's work mostly waits on the disk).
std::size_t io_pool_size(std::size_t io_threads) noexcept;

}  // namespace multistore::detail
