#pragma once

// Schemas shared by the actor-layer, acceptance and reliability tests.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "multistore/schema.hpp"

namespace test_schemas {

struct issue_created {
  static constexpr std::string_view name = "issue_created";
  std::string id;
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(issue_created, id, title)

struct status_changed {
  static constexpr std::string_view name = "status_changed";
  std::string id;
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(status_changed, id, status)

struct comment_added {
  static constexpr std::string_view name = "comment_added";
  std::string issue_id;
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(comment_added, issue_id, text)

struct issue_schema {
  static constexpr std::string_view name = "issue";
  using events = multistore::event_list<issue_created, status_changed, comment_added>;
  static void define(multistore::schema_builder& b) {
    b.table("issues",
            "CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT NOT NULL, "
            "status TEXT NOT NULL DEFAULT 'open')");
    b.table("comments", "CREATE TABLE comments (issue_id TEXT NOT NULL, text TEXT NOT NULL)");
    b.materialize<issue_created>([](const issue_created& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO issues (id, title) VALUES (?, ?)", e.id, e.title);
    });
    b.materialize<status_changed>([](const status_changed& e, multistore::sql_writer& w) {
      w.exec("UPDATE issues SET status = ? WHERE id = ?", e.status, e.id);
    });
    b.materialize<comment_added>([](const comment_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO comments (issue_id, text) VALUES (?, ?)", e.issue_id, e.text);
    });
  }
};

struct note_added {
  static constexpr std::string_view name = "note_added";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(note_added, text)

struct notes_schema {
  static constexpr std::string_view name = "notes";
  using events = multistore::event_list<note_added>;
  static void define(multistore::schema_builder& b) {
    b.table("notes", "CREATE TABLE notes (text TEXT NOT NULL)");
    b.materialize<note_added>([](const note_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
  }
};

}  // namespace test_schemas
