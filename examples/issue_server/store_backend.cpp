// The tracker on multistore. Each call acquires the stores it needs through
// the registry's blocking facade and releases them before it returns, so the
// registry's GC works under real traffic. No lock is held across a commit
// except one issue's own: issue numbers come from a counter per workspace
// (started from the list's highest number), and a status change takes its
// issue's lock so that the issue's store and the workspace's list see the
// changes of one issue in one order. Concurrent commits to one workspace's
// list meet in its store's queue and go to disk as one group.

#include <array>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include <multistore/multistore.hpp>

#include "backend.hpp"
#include "schemas.hpp"
#include "service.hpp"

namespace issue_tracker {

namespace {

using json = nlohmann::json;
using multistore::store_handle;

/// The issue with its comments, as the API shows it.
/// (One query: each one is a round trip to the store's I/O thread.)
json issue_json(const store_handle<issue_schema>& issue, std::int64_t n) {
  auto rows = issue.query(
      "SELECT title, status, (SELECT json_group_array(json_object('n', n, 'text', text)) "
      "FROM (SELECT n, text FROM comments ORDER BY n)) AS comments FROM issue");
  json out{{"id", n}, {"title", nullptr}, {"status", nullptr}, {"comments", json::array()}};
  if (!rows.empty()) {
    out["title"] = rows[0]["title"];
    out["status"] = rows[0]["status"];
    out["comments"] = json::parse(rows[0]["comments"].get<std::string>());
  }
  return out;
}

/// A live stream: its lease, its subscription, and whether the issue changed
/// since the stream last wrote.
class store_feed final : public live_feed {
 public:
  static std::shared_ptr<store_feed> open(store_handle<issue_schema> handle, std::int64_t n) {
    auto feed = std::shared_ptr<store_feed>(new store_feed(std::move(handle), n));
    std::weak_ptr<store_feed> weak = feed;
    feed->sub_ = feed->handle_.subscribe(
        "SELECT title, status, (SELECT count(*) FROM comments) AS comments FROM issue",
        [weak](const json&) {
          if (auto f = weak.lock())
            f->mark();
        });
    return feed;
  }

  step next(std::chrono::milliseconds wait, json& out) override {
    std::unique_lock lock{mtx_};
    changed_.wait_for(lock, wait, [&] { return dirty_ || ended_; });
    if (ended_)
      return step::ended;
    if (!dirty_)
      return step::idle;
    dirty_ = false;
    lock.unlock();
    out = issue_json(handle_, issue_);
    return step::changed;
  }

  void end() override {
    std::lock_guard guard{mtx_};
    ended_ = true;
    changed_.notify_all();
  }

  void close() override {
    sub_ = {};
    handle_.release();
  }

 private:
  store_feed(store_handle<issue_schema> handle, std::int64_t n)
      : issue_(n), handle_(std::move(handle)) {}

  void mark() {
    std::lock_guard guard{mtx_};
    dirty_ = true;
    changed_.notify_all();
  }

  std::int64_t issue_;
  store_handle<issue_schema> handle_;
  multistore::subscription sub_;
  std::mutex mtx_;
  std::condition_variable changed_;
  bool dirty_ = true;  ///< the first message is the current state
  bool ended_ = false;
};

class store_backend final : public backend {
 public:
  store_backend(multistore::store_registry& registry, const service_options& options)
      : registry_(registry), data_(options.data), issue_gc_time_(options.issue_gc_time) {}

  reply put_workspace(const std::string& ws, const std::string& name) override {
    std::lock_guard guard{lock_of(ws)};
    auto w = registry_.use(workspace_store(ws));
    auto rows = w.query("SELECT name FROM workspace");
    bool created = rows.empty();
    if (created || rows[0]["name"] != name)
      w.commit(workspace_named{name});
    return std::pair{created ? 201 : 200, json{{"id", ws}, {"name", name}}};
  }

  reply post_issue(const std::string& ws, const std::string& title) override {
    auto w = open_workspace(ws);
    if (!w)
      return tl::unexpected(w.error());
    auto n = take_number(ws, *w);
    {
      // The issue's own store first: a crash between the two commits leaves
      // an issue nobody lists (a gap in the numbers, or a number the next
      // create after a restart takes again).
      auto issue = registry_.use(issue_store(ws, n));
      issue.commit(issue_opened{title});
    }
    w->commit(issue_listed{n, title});
    return std::pair{201, json{{"id", n}, {"title", title}, {"status", "todo"},
                               {"comments", json::array()}}};
  }

  reply list_issues(const std::string& ws, std::int64_t offset, std::int64_t limit) override {
    auto w = open_workspace(ws);
    if (!w)
      return tl::unexpected(w.error());
    auto total = w->query("SELECT count(*) AS n FROM issues")[0]["n"];
    auto issues = w->query("SELECT id, title, status FROM issues ORDER BY id LIMIT ? OFFSET ?",
                           limit, offset);
    return std::pair{200, json{{"issues", std::move(issues)}, {"total", total},
                               {"offset", offset}, {"limit", limit}}};
  }

  reply get_issue(const std::string& ws, std::int64_t n) override {
    auto issue = open_issue(ws, n);
    if (!issue)
      return tl::unexpected(issue.error());
    return std::pair{200, issue_json(*issue, n)};
  }

  reply patch_issue(const std::string& ws, std::int64_t n, const std::string& status) override {
    auto w = listing_workspace(ws, n);
    if (!w)
      return tl::unexpected(w.error());
    std::lock_guard guard{lock_of(ws, n)};
    auto issue = registry_.use(issue_store(ws, n));
    issue.commit(status_set{status});
    w->commit(issue_status_listed{n, status});
    return std::pair{200, issue_json(issue, n)};
  }

  reply post_comment(const std::string& ws, std::int64_t n, const std::string& text) override {
    auto issue = open_issue(ws, n);
    if (!issue)
      return tl::unexpected(issue.error());
    auto seq = issue->commit(comment_posted{text});
    return std::pair{201, json{{"issue", n}, {"text", text}, {"seq", seq}}};
  }

  answer<std::shared_ptr<live_feed>> open_live(const std::string& ws, std::int64_t n) override {
    auto issue = open_issue(ws, n);
    if (!issue)
      return tl::unexpected(issue.error());
    return store_feed::open(std::move(*issue), n);
  }

  std::string metrics() override { return registry_.metrics(); }

 private:
  /// The lock of workspace `ws` (n 0) or of its issue `n`: one of a fixed
  /// set, so two of them may share one (they then wait for each other).
  std::mutex& lock_of(const std::string& ws, std::int64_t n = 0) {
    auto h = std::hash<std::string>{}(ws) * 31 + std::hash<std::int64_t>{}(n);
    return stripes_[h % stripes_.size()];
  }

  /// The next issue number of workspace `ws`.
  std::int64_t take_number(const std::string& ws, const store_handle<workspace_schema>& w) {
    std::lock_guard guard{numbers_mtx_};
    auto it = next_number_.find(ws);
    if (it == next_number_.end())
      it = next_number_.emplace(ws, w.query("SELECT coalesce(max(id), 0) + 1 AS n FROM issues")[0]["n"]
                                        .get<std::int64_t>())
               .first;
    return it->second++;
  }

  multistore::sqlite_adapter storage() const {
    return multistore::sqlite_adapter{data_, multistore::sync_level::full};
  }

  multistore::store_options<workspace_schema> workspace_store(const std::string& ws) const {
    return {.store_id = "workspace-" + ws, .storage = storage(), .gc_time = multistore::gc_never};
  }

  multistore::store_options<issue_schema> issue_store(const std::string& ws, std::int64_t n) const {
    return {.store_id = "ws-" + ws + "-issue-" + std::to_string(n),
            .storage = storage(),
            .gc_time = multistore::gc_duration{issue_gc_time_}};
  }

  /// The workspace `ws` if it was created (PUT); 404 otherwise, without
  /// loading (or creating) a store for an id nobody created.
  answer<store_handle<workspace_schema>> open_workspace(const std::string& ws) {
    if (!std::filesystem::exists(workspace_file(ws)))
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    auto w = registry_.use(workspace_store(ws));
    if (w.query("SELECT name FROM workspace").empty())
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    return w;
  }

  /// The workspace `ws` if it was created and lists issue `n`; 404
  /// otherwise. One query answers both.
  answer<store_handle<workspace_schema>> listing_workspace(const std::string& ws, std::int64_t n) {
    if (!std::filesystem::exists(workspace_file(ws)))
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    auto w = registry_.use(workspace_store(ws));
    auto row = w.query("SELECT (SELECT name FROM workspace) AS name, "
                       "EXISTS (SELECT 1 FROM issues WHERE id = ?) AS listed",
                       n)[0];
    if (row["name"].is_null())
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    if (row["listed"] == 0)
      return tl::unexpected(
          fail(404, "not_found", "no issue " + std::to_string(n) + " in workspace '" + ws + "'"));
    return w;
  }

  /// Issue `n` of a created workspace, listed there; 404 otherwise.
  answer<store_handle<issue_schema>> open_issue(const std::string& ws, std::int64_t n) {
    if (auto w = listing_workspace(ws, n); !w)
      return tl::unexpected(w.error());
    return registry_.use(issue_store(ws, n));
  }

  std::filesystem::path workspace_file(const std::string& ws) const {
    return data_ / ("workspace-" + ws + ".sqlite");
  }

  multistore::store_registry& registry_;
  std::filesystem::path data_;
  std::chrono::milliseconds issue_gc_time_;
  std::array<std::mutex, 256> stripes_;
  std::mutex numbers_mtx_;
  std::unordered_map<std::string, std::int64_t> next_number_;
};

}  // namespace

std::unique_ptr<backend> make_store_backend(multistore::store_registry& registry,
                                            const service_options& options) {
  return std::make_unique<store_backend>(registry, options);
}

}  // namespace issue_tracker
