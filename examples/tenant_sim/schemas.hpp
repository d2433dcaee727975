#pragma once

// The simulated product: workspaces that list their issues, and one store per
// issue with its status and comments.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <multistore/schema.hpp>

namespace tenant_sim {

struct issue_registered {
  static constexpr std::string_view name = "issue_registered";
  std::string issue_id;
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_registered, issue_id, title)

struct workspace_schema {
  static constexpr std::string_view name = "workspace";
  using events = multistore::event_list<issue_registered>;
  static void define(multistore::schema_builder& b) {
    b.table("issue_index",
            "CREATE TABLE issue_index (issue_id TEXT PRIMARY KEY, title TEXT NOT NULL)");
    b.materialize<issue_registered>([](const issue_registered& e, multistore::sql_writer& w) {
      w.exec("INSERT OR REPLACE INTO issue_index (issue_id, title) VALUES (?, ?)", e.issue_id,
             e.title);
    });
  }
};

struct issue_created {
  static constexpr std::string_view name = "issue_created";
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_created, title)

struct status_changed {
  static constexpr std::string_view name = "status_changed";
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(status_changed, status)

struct comment_added {
  static constexpr std::string_view name = "comment_added";
  std::string author;
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(comment_added, author, text)

struct issue_schema {
  static constexpr std::string_view name = "issue";
  using events = multistore::event_list<issue_created, status_changed, comment_added>;
  static void define(multistore::schema_builder& b) {
    b.table("issue", "CREATE TABLE issue (title TEXT NOT NULL, status TEXT NOT NULL)");
    b.table("comments", "CREATE TABLE comments (author TEXT NOT NULL, text TEXT NOT NULL)");
    b.materialize<issue_created>([](const issue_created& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO issue (title, status) VALUES (?, 'open')", e.title);
    });
    b.materialize<status_changed>([](const status_changed& e, multistore::sql_writer& w) {
      w.exec("UPDATE issue SET status = ?", e.status);
    });
    b.materialize<comment_added>([](const comment_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO comments (author, text) VALUES (?, ?)", e.author, e.text);
    });
  }
};

}  // namespace tenant_sim
