#include "detail/io_executor.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace multistore::detail {

namespace {

/// What the pool's threads share; each thread keeps it alive, so that a
/// pool destroyed from one of its own jobs (the job held the last reference)
/// can let that thread finish instead of joining itself.
struct pool_state {
  std::mutex mtx;
  std::condition_variable ready;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
};

void work(const std::shared_ptr<pool_state>& s) {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock{s->mtx};
      s->ready.wait(lock, [&] { return s->stopping || !s->jobs.empty(); });
      if (s->jobs.empty())
        return;  // stopping, and every queued job has run
      job = std::move(s->jobs.front());
      s->jobs.pop_front();
    }
    job();
  }
}

class io_pool final : public io_executor {
 public:
  explicit io_pool(std::size_t threads) : state_(std::make_shared<pool_state>()) {
    threads = std::max<std::size_t>(threads, 1);
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
      workers_.emplace_back([s = state_] { work(s); });
  }

  ~io_pool() override {
    {
      std::lock_guard guard{state_->mtx};
      state_->stopping = true;
    }
    state_->ready.notify_all();
    for (auto& t : workers_) {
      if (t.get_id() == std::this_thread::get_id())
        t.detach();  // destroyed from a job: this thread ends once the job returns
      else
        t.join();
    }
  }

  void post(std::function<void()> job) override {
    // Once queued, the job may run and destroy this pool (it held the last
    // reference): from then on only the shared state is touched.
    auto s = state_;
    {
      std::lock_guard guard{s->mtx};
      s->jobs.push_back(std::move(job));
    }
    s->ready.notify_one();
  }

 private:
  std::shared_ptr<pool_state> state_;
  std::vector<std::thread> workers_;
};

class inline_executor final : public io_executor {
 public:
  void post(std::function<void()> job) override { job(); }
};

}  // namespace

std::shared_ptr<io_executor> make_io_pool(std::size_t threads) {
  return std::make_shared<io_pool>(threads);
}

std::shared_ptr<io_executor> make_inline_executor() {
  return std::make_shared<inline_executor>();
}

std::size_t io_pool_size(std::size_t io_threads) noexcept {
  if (io_threads != 0)
    return io_threads;
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<std::size_t>(2 * cores, 2, 16);
}

}  // namespace multistore::detail
