#pragma once

// What the issue tracker's HTTP layer asks of its data: the multistore
// stores (store_backend.cpp) or, as the baseline that shows what the HTTP
// layer costs alone, maps behind one mutex (memory_backend.cpp). The HTTP
// layer (service.cpp) has checked every argument before it calls.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace multistore {
class store_registry;
}

namespace issue_tracker {

struct service_options;

/// An HTTP error: its status, a short code and a message for people.
struct http_error {
  int status = 500;
  std::string code;
  std::string message;
};

template <class T>
using answer = tl::expected<T, http_error>;

/// A status and a JSON body.
using reply = answer<std::pair<int, nlohmann::json>>;

inline http_error fail(int status, std::string code, std::string message) {
  return http_error{status, std::move(code), std::move(message)};
}

/// One open live stream on an issue.
class live_feed {
 public:
  enum class step { changed, idle, ended };
  virtual ~live_feed() = default;
  /// Waits up to `wait` for the issue to change (the first call returns at
  /// once): `changed` with the issue's JSON in `out`, `idle` after `wait`,
  /// `ended` once end() was called.
  virtual step next(std::chrono::milliseconds wait, nlohmann::json& out) = 0;
  /// Ends the stream; the next (or a waiting) next() returns `ended`.
  virtual void end() = 0;
  /// Gives the feed's resources (a store lease) back now. Called once, from
  /// the thread that called next().
  virtual void close() = 0;
};

class backend {
 public:
  virtual ~backend() = default;
  virtual reply put_workspace(const std::string& ws, const std::string& name) = 0;
  virtual reply post_issue(const std::string& ws, const std::string& title) = 0;
  virtual reply list_issues(const std::string& ws, std::int64_t offset, std::int64_t limit) = 0;
  virtual reply get_issue(const std::string& ws, std::int64_t n) = 0;
  virtual reply patch_issue(const std::string& ws, std::int64_t n, const std::string& status) = 0;
  virtual reply post_comment(const std::string& ws, std::int64_t n, const std::string& text) = 0;
  virtual answer<std::shared_ptr<live_feed>> open_live(const std::string& ws, std::int64_t n) = 0;
  /// The Prometheus text of GET /metrics.
  virtual std::string metrics() = 0;
};

/// The tracker on multistore: file stores under `options.data`.
std::unique_ptr<backend> make_store_backend(multistore::store_registry& registry,
                                            const service_options& options);

/// The baseline: the same answers from maps behind one mutex, in memory
/// (nothing survives the process).
std::unique_ptr<backend> make_memory_backend();

}  // namespace issue_tracker
