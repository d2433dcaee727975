// The baseline backend: the tracker's answers from maps behind one mutex,
// in memory. It exists to be measured against (issue_server --baseline):
// the same HTTP layer, the same checks and the same JSON, with no store.

#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "backend.hpp"

namespace issue_tracker {

namespace {

using json = nlohmann::json;

struct memory_issue {
  std::string title;
  std::string status = "todo";
  std::vector<std::string> comments;
  std::uint64_t version = 0;
};

struct memory_workspace {
  std::string name;
  std::vector<memory_issue> issues;  ///< issue n at n - 1
};

/// Everything, under one mutex; `changed` wakes the live feeds.
struct memory_data {
  std::mutex mtx;
  std::condition_variable changed;
  std::map<std::string, memory_workspace> workspaces;
  std::uint64_t commits = 0;

  /// Issue `n` of workspace `ws`, or 404. Called with `mtx` held.
  answer<memory_issue*> issue(const std::string& ws, std::int64_t n) {
    auto w = workspaces.find(ws);
    if (w == workspaces.end())
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    if (n < 1 || static_cast<std::size_t>(n) > w->second.issues.size())
      return tl::unexpected(
          fail(404, "not_found", "no issue " + std::to_string(n) + " in workspace '" + ws + "'"));
    return &w->second.issues[static_cast<std::size_t>(n - 1)];
  }
};

json issue_json(const memory_issue& i, std::int64_t n) {
  auto comments = json::array();
  for (std::size_t k = 0; k < i.comments.size(); ++k)
    comments.push_back({{"n", k + 1}, {"text", i.comments[k]}});
  return {{"id", n}, {"title", i.title}, {"status", i.status}, {"comments", std::move(comments)}};
}

class memory_feed final : public live_feed {
 public:
  memory_feed(std::shared_ptr<memory_data> data, std::string ws, std::int64_t n)
      : data_(std::move(data)), ws_(std::move(ws)), issue_(n) {}

  step next(std::chrono::milliseconds wait, json& out) override {
    std::unique_lock lock{data_->mtx};
    auto current = [&] {
      auto i = data_->issue(ws_, issue_);
      return i ? (*i)->version : 0;
    };
    data_->changed.wait_for(lock, wait, [&] { return ended_ || !seen_ || current() != version_; });
    if (ended_)
      return step::ended;
    if (seen_ && current() == version_)
      return step::idle;
    auto i = data_->issue(ws_, issue_);
    seen_ = true;
    version_ = i ? (*i)->version : 0;
    out = i ? issue_json(**i, issue_) : json{};
    return step::changed;
  }

  void end() override {
    std::lock_guard guard{data_->mtx};
    ended_ = true;
    data_->changed.notify_all();
  }

  void close() override {}

 private:
  std::shared_ptr<memory_data> data_;
  std::string ws_;
  std::int64_t issue_;
  bool seen_ = false;
  bool ended_ = false;  ///< guarded by data_->mtx
  std::uint64_t version_ = 0;
};

class memory_backend final : public backend {
 public:
  reply put_workspace(const std::string& ws, const std::string& name) override {
    std::lock_guard guard{data_->mtx};
    auto [it, created] = data_->workspaces.try_emplace(ws);
    it->second.name = name;
    ++data_->commits;
    return std::pair{created ? 201 : 200, json{{"id", ws}, {"name", name}}};
  }

  reply post_issue(const std::string& ws, const std::string& title) override {
    std::lock_guard guard{data_->mtx};
    auto w = data_->workspaces.find(ws);
    if (w == data_->workspaces.end())
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    w->second.issues.push_back(memory_issue{.title = title});
    auto n = static_cast<std::int64_t>(w->second.issues.size());
    data_->commits += 2;
    return std::pair{201, issue_json(w->second.issues.back(), n)};
  }

  reply list_issues(const std::string& ws, std::int64_t offset, std::int64_t limit) override {
    std::lock_guard guard{data_->mtx};
    auto w = data_->workspaces.find(ws);
    if (w == data_->workspaces.end())
      return tl::unexpected(fail(404, "not_found", "no workspace '" + ws + "'"));
    const auto& all = w->second.issues;
    auto issues = json::array();
    for (auto k = static_cast<std::size_t>(offset); k < all.size() && issues.size() < static_cast<std::size_t>(limit); ++k)
      issues.push_back({{"id", k + 1}, {"title", all[k].title}, {"status", all[k].status}});
    return std::pair{200, json{{"issues", std::move(issues)}, {"total", all.size()},
                               {"offset", offset}, {"limit", limit}}};
  }

  reply get_issue(const std::string& ws, std::int64_t n) override {
    std::lock_guard guard{data_->mtx};
    auto i = data_->issue(ws, n);
    if (!i)
      return tl::unexpected(i.error());
    return std::pair{200, issue_json(**i, n)};
  }

  reply patch_issue(const std::string& ws, std::int64_t n, const std::string& status) override {
    std::lock_guard guard{data_->mtx};
    auto i = data_->issue(ws, n);
    if (!i)
      return tl::unexpected(i.error());
    (*i)->status = status;
    ++(*i)->version;
    data_->commits += 2;
    data_->changed.notify_all();
    return std::pair{200, issue_json(**i, n)};
  }

  reply post_comment(const std::string& ws, std::int64_t n, const std::string& text) override {
    std::lock_guard guard{data_->mtx};
    auto i = data_->issue(ws, n);
    if (!i)
      return tl::unexpected(i.error());
    (*i)->comments.push_back(text);
    ++(*i)->version;
    ++data_->commits;
    data_->changed.notify_all();
    return std::pair{201, json{{"issue", n}, {"text", text}, {"seq", (*i)->version}}};
  }

  answer<std::shared_ptr<live_feed>> open_live(const std::string& ws, std::int64_t n) override {
    {
      std::lock_guard guard{data_->mtx};
      if (auto i = data_->issue(ws, n); !i)
        return tl::unexpected(i.error());
    }
    return std::make_shared<memory_feed>(data_, ws, n);
  }

  std::string metrics() override {
    std::lock_guard guard{data_->mtx};
    return "# HELP issue_tracker_baseline_writes_total Writes the in-memory baseline took.\n"
           "# TYPE issue_tracker_baseline_writes_total counter\n"
           "issue_tracker_baseline_writes_total "
           + std::to_string(data_->commits) + "\n";
  }

 private:
  std::shared_ptr<memory_data> data_ = std::make_shared<memory_data>();
};

}  // namespace

std::unique_ptr<backend> make_memory_backend() { return std::make_unique<memory_backend>(); }

}  // namespace issue_tracker
