#pragma once

// The issue tracker's two stores: a workspace (its name and the list of its
// issues, with their titles and statuses) and one store per issue (the issue
// itself and its comments).

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <multistore/schema.hpp>

namespace issue_tracker {

// -- the workspace store ---------------------------------------------------------------

struct workspace_named {
  static constexpr std::string_view name = "workspace_named";
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(workspace_named, title)

/// An issue joined the workspace's list (its own store holds the rest).
struct issue_listed {
  static constexpr std::string_view name = "issue_listed";
  std::int64_t id = 0;
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_listed, id, title)

/// The list's copy of an issue's status, written after the issue's own.
struct issue_status_listed {
  static constexpr std::string_view name = "issue_status_listed";
  std::int64_t id = 0;
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_status_listed, id, status)

struct workspace_schema {
  static constexpr std::string_view name = "tracker_workspace";
  using events = multistore::event_list<workspace_named, issue_listed, issue_status_listed>;
  static void define(multistore::schema_builder& b) {
    b.table("workspace",
            "CREATE TABLE workspace (one INTEGER PRIMARY KEY CHECK (one = 1), name TEXT NOT NULL)");
    b.table("issues",
            "CREATE TABLE issues (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
            "status TEXT NOT NULL)");
    b.materialize<workspace_named>([](const workspace_named& e, multistore::sql_writer& w) {
      w.exec("INSERT OR REPLACE INTO workspace (one, name) VALUES (1, ?)", e.title);
    });
    b.materialize<issue_listed>([](const issue_listed& e, multistore::sql_writer& w) {
      w.exec("INSERT OR REPLACE INTO issues (id, title, status) VALUES (?, ?, 'todo')", e.id,
             e.title);
    });
    b.materialize<issue_status_listed>(
        [](const issue_status_listed& e, multistore::sql_writer& w) {
          w.exec("UPDATE issues SET status = ? WHERE id = ?", e.status, e.id);
        });
  }
};

// -- one issue's store -----------------------------------------------------------------

struct issue_opened {
  static constexpr std::string_view name = "issue_opened";
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_opened, title)

struct status_set {
  static constexpr std::string_view name = "status_set";
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(status_set, status)

struct comment_posted {
  static constexpr std::string_view name = "comment_posted";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(comment_posted, text)

struct issue_schema {
  static constexpr std::string_view name = "tracker_issue";
  using events = multistore::event_list<issue_opened, status_set, comment_posted>;
  static void define(multistore::schema_builder& b) {
    b.table("issue",
            "CREATE TABLE issue (one INTEGER PRIMARY KEY CHECK (one = 1), title TEXT NOT NULL, "
            "status TEXT NOT NULL)");
    b.table("comments",
            "CREATE TABLE comments (n INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    b.materialize<issue_opened>([](const issue_opened& e, multistore::sql_writer& w) {
      w.exec("INSERT OR REPLACE INTO issue (one, title, status) VALUES (1, ?, 'todo')", e.title);
    });
    b.materialize<status_set>([](const status_set& e, multistore::sql_writer& w) {
      w.exec("UPDATE issue SET status = ?", e.status);
    });
    b.materialize<comment_posted>([](const comment_posted& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO comments (text) VALUES (?)", e.text);
    });
  }
};

}  // namespace issue_tracker
