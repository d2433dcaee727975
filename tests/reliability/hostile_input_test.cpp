// Hostile input gets a clear error and harms nothing: store ids, events,
// queries and schemas, through the blocking facade and through raw messages
// to the registry and store actors. Every row checks the documented errc, a
// message naming the cause, that nothing appeared outside the storage
// directory, and that a store opened beforehand still commits and queries.
#include "hostile_world.hpp"

#include <tuple>

using namespace hostile;
using multistore::wire_event;
using test_schemas::notes_schema;

namespace {

struct id_row {
  std::string label;
  std::string id;
  std::string cause;
};

struct event_row {
  std::string label;
  std::vector<wire_event> events;
  errc code;
  std::string cause;
};

struct query_row {
  std::string sql;
  std::string cause;
};

const std::string valid_args = R"({"id":"2","title":"fine"})";

}  // namespace

TEST_CASE("store ids that are not safe file names are refused and create no file",
          "[reliability][hostile][store_id]") {
  world w;
  const std::vector<id_row> rows{
      {"a slash", "a/b", "character 2 is '/'"},
      {"dot dot", "..", "character 1 is '.'"},
      {"a parent path", "../escape", "character 1 is '.'"},
      {"a grandparent path", "../../escape-from-tmp", "character 1 is '.'"},
      {"an absolute path", (w.root() / "absolute").string(), "character 1 is '/'"},
      {"a NUL byte", std::string("a\0b", 3), "character 2 is '\\x00'"},
      {"a space", "with space", "character 5 is ' '"},
      {"a newline", "a\nb", "character 2 is '\\x0a'"},
      {"a backslash", "a\\b", "character 2 is '\\x5c'"},
      {"unicode", "\xc3\xbcn\xc3\xaf" "code", "character 1 is '\\xc3'"},
      {"a percent-encoded dot", "%2e%2e", "character 1 is '%'"},
      {"empty", "", "store id is empty"},
      {"121 characters", std::string(121, 'x'), "121 characters long; at most 120"},
      {"a huge id", std::string(1 << 20, 'y'), "1048576 characters long"},
  };
  const auto files_before = w.data_files();
  raw_client raw{w};
  for (const auto& row : rows) {
    INFO("store id: " << row.label);
    auto opts = w.file_store<issue_schema>(row.id);
    // The blocking facade.
    auto e = thrown_by([&] { w.registry().use(opts); });
    REQUIRE(e);
    CHECK(e->code() == errc::invalid_store_id);
    CHECK_THAT(e->what(), Catch::Contains(row.cause));
    CHECK(std::string_view{e->what()}.size() < 400);  // the id is shown cut short
    // preload swallows the error and loads nothing.
    w.registry().preload(opts).get();
    CHECK(w.registry().inspect(row.id).state == multistore::store_state::disposed);
    // The registry's message protocol.
    auto r = raw.acquire(opts);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_store_id);
    CHECK_THAT(r.error().message, Catch::Contains(row.cause));
    // The engine itself, below the registry.
    auto engine = multistore::store_engine::open(multistore::schema_of<issue_schema>(), row.id,
                                                 multistore::sqlite_adapter{w.data()}, {});
    REQUIRE_FALSE(engine);
    CHECK(engine.error().code == errc::invalid_store_id);

    CHECK(w.data_files() == files_before);
    w.check_unharmed();
  }
  CHECK_FALSE(fs::exists(w.root().parent_path() / "escape-from-tmp.sqlite"));

  // The longest valid id still works: the rows above fail for their cause.
  auto longest = w.registry().use(w.file_store<issue_schema>(std::string(120, 'x')));
  longest.commit(issue_created{"1", "fits"});
  CHECK(fs::exists(w.data() / (std::string(120, 'x') + ".sqlite")));
}

TEST_CASE("malformed events sent to a store actor are refused and change nothing",
          "[reliability][hostile][events]") {
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("target"));
  target.commit(issue_created{"1", "before"});
  raw_client raw{w};
  auto acquired = raw.acquire(w.file_store<issue_schema>("target"));
  REQUIRE(acquired);
  const auto store = acquired->first;

  const std::vector<event_row> rows{
      {"an unknown name", {{"no_such_event", "{}"}}, errc::invalid_event,
       "'no_such_event' (1 of 1) is not in schema 'issue'"},
      {"a name with a NUL byte", {{std::string("issue_created\0x", 15), valid_args}},
       errc::invalid_event, "is not in schema 'issue'"},
      {"an empty name", {{"", valid_args}}, errc::invalid_event, "is not in schema"},
      {"a huge unknown name", {{std::string(1 << 20, 'n'), "{}"}}, errc::invalid_event,
       "is not in schema"},
      {"malformed JSON", {{"issue_created", R"({"id": "2", )"}}, errc::invalid_event,
       "not valid JSON"},
      {"empty arguments", {{"issue_created", ""}}, errc::invalid_event, "not valid JSON"},
      {"invalid UTF-8 in the JSON text", {{"issue_created", "{\"id\":\"2\",\"title\":\"\xff\"}"}},
       errc::invalid_event, "not valid JSON"},
      {"wrong field types", {{"issue_created", R"({"id": 2, "title": ["x"]})"}},
       errc::invalid_event, "does not decode"},
      {"missing fields", {{"issue_created", "{}"}}, errc::invalid_event, "does not decode"},
      {"an array for an object", {{"issue_created", "[1, 2, 3]"}}, errc::invalid_event,
       "does not decode"},
      {"null arguments", {{"issue_created", "null"}}, errc::invalid_event, "does not decode"},
      {"a bad second event after a good one",
       {{"issue_created", valid_args}, {"no_such_event", "{}"}}, errc::invalid_event,
       "(2 of 2) is not in schema"},
      {"malformed JSON after a good event",
       {{"issue_created", valid_args}, {"issue_created", "{"}}, errc::invalid_event,
       "not valid JSON"},
      {"an event its materializer rejects (duplicate key)",
       {{"issue_created", R"({"id":"1","title":"again"})"}}, errc::storage_failed,
       "UNIQUE constraint failed"},
      {"a good event then one its materializer rejects",
       {{"issue_created", valid_args}, {"issue_created", valid_args}}, errc::storage_failed,
       "UNIQUE constraint failed"},
  };
  const auto issues_before = target.query("SELECT * FROM issues ORDER BY id");
  const auto head_before = raw.head(store);
  for (const auto& row : rows) {
    INFO("events: " << row.label);
    auto r = raw.commit(store, row.events);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == row.code);
    CHECK_THAT(r.error().message, Catch::Contains(row.cause));
    CHECK_THAT(r.error().message, Catch::Contains("nothing was committed")
                                      || Catch::Contains("not valid JSON"));
    CHECK(raw.head(store) == head_before);
    CHECK(target.query("SELECT * FROM issues ORDER BY id") == issues_before);
    CHECK(target.query("SELECT count(*) AS n FROM __events").at(0).at("n") == head_before);
    w.check_unharmed();
  }

  // A message of the wrong shape gets CAF's own error and the store lives on.
  auto wrong = raw.ask<std::uint64_t>(store, multistore::commit_atom::value,
                                      std::string{"not a list of events"});
  CHECK_FALSE(wrong);
  // The target itself still serves, with raw messages and through the handle.
  auto ok = raw.commit(store, {{"issue_created", valid_args}});
  REQUIRE(ok);
  CHECK(*ok == head_before + 1);
  CHECK(target.commit(issue_created{"3", "after"}) == head_before + 2);
  CHECK(w.registry().inspect("target").loads == 1);
  raw.release(acquired->second);
}

TEST_CASE("a 10 MB event payload commits intact and harms no other store",
          "[reliability][hostile][events]") {
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("big"));
  const std::string huge(10u << 20, 'x');
  CHECK(target.commit(issue_created{"huge", huge}) == 1);
  raw_client raw{w};
  auto acquired = raw.acquire(w.file_store<issue_schema>("big"));
  REQUIRE(acquired);
  auto r = raw.commit(acquired->first,
                      {{"issue_created", nlohmann::json(issue_created{"raw", huge}).dump()}});
  REQUIRE(r);
  CHECK(*r == 2);
  // Intact, compared inside SQLite (printf's %.*c repeats the character).
  auto rows = target.query(
      "SELECT id, length(title) AS n, title = printf('%.*c', 10485760, 'x') AS same FROM issues "
      "ORDER BY id");
  CHECK(rows == nlohmann::json::parse(R"([{"id":"huge","n":10485760,"same":1},)"
                                      R"({"id":"raw","n":10485760,"same":1}])"));
  CHECK(target.query("SELECT count(*) AS n FROM __events WHERE length(args) > 10485760")
            .at(0)
            .at("n")
        == 2);
  raw.release(acquired->second);
  w.check_unharmed();
}

TEST_CASE("an event string that is not valid UTF-8 is refused with invalid_event",
          "[reliability][hostile][events]") {
  // Was a bug: the facade encoded events with detail::json_text, which replaces
  // invalid UTF-8 by U+FFFD, so the commit succeeds and the log holds a title
  // the caller never sent; store_engine::commit refuses the same event with
  // invalid_event.
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("utf8"));
  target.commit(issue_created{"1", "fine"});
  auto e = thrown_by([&] { target.commit(issue_created{"2", "\xff\xfe not UTF-8"}); });
  if (e) {
    CHECK(e->code() == errc::invalid_event);
    CHECK_THAT(e->what(), Catch::Contains("UTF-8"));
  }
  CHECK(target.query("SELECT count(*) AS n FROM issues").at(0).at("n") == 1);
  CHECK(target.commit(issue_created{"3", "after"}) == 2);
  w.check_unharmed();
}

TEST_CASE("queries that write or fail are refused with query_failed and change nothing",
          "[reliability][hostile][query]") {
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("target"));
  target.commit(issue_created{"1", "one"}, issue_created{"2", "two"});
  const auto evil = (w.root() / "evil.sqlite").string();
  const auto copy = (w.root() / "copy.sqlite").string();
  const std::vector<query_row> rows{
      {"INSERT INTO issues (id, title) VALUES ('x', 'y')", "read-only"},
      {"UPDATE issues SET title = 'pwned'", "read-only"},
      {"DELETE FROM issues", "read-only"},
      {"DROP TABLE issues", "read-only"},
      {"CREATE TABLE evil (x)", "read-only"},
      {"INSERT INTO __events (seq, name, args) VALUES (99, 'issue_created', '{}')", "read-only"},
      {"REPLACE INTO issues (id, title) VALUES ('1', 'pwned')", "read-only"},
      {"ATTACH DATABASE '" + evil + "' AS evil", "may not ATTACH"},
      {"VACUUM INTO '" + copy + "'", ""},
      {"VACUUM", ""},
      {"PRAGMA journal_mode = DELETE", "may not set PRAGMA journal_mode"},
      {"PRAGMA writable_schema = ON", "may not set PRAGMA writable_schema"},
      {"BEGIN IMMEDIATE", "may not control transactions"},
      {"COMMIT", "may not control transactions"},
      {"SELECT * FROM no_such_table", "no such table: no_such_table"},
      {"SELEC 1", "syntax error"},
      {"SELECT ? AS v", "takes 1 parameters, 0 were given"},
      {"", "holds no SQL statement"},
      {"   -- only a comment", "holds no SQL statement"},
      {"SELECT load_extension('" + evil + "')", "not authorized"},
      {"SELECT * FROM issues WHERE id = " + std::string(1 << 20, '('), "parser stack overflow"},
  };
  const auto before = target.query("SELECT * FROM issues ORDER BY id");
  raw_client raw{w};
  auto acquired = raw.acquire(w.file_store<issue_schema>("target"));
  REQUIRE(acquired);
  for (const auto& row : rows) {
    INFO("query: " << row.sql.substr(0, 80));
    auto e = thrown_by([&] { target.query(row.sql); });
    REQUIRE(e);
    CHECK(e->code() == errc::query_failed);
    CHECK_THAT(e->what(), Catch::Contains(row.cause));
    auto r = raw.query(acquired->first, row.sql);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::query_failed);
    CHECK(target.query("SELECT * FROM issues ORDER BY id") == before);
    CHECK(target.query("SELECT count(*) AS n FROM __events").at(0).at("n") == 2);
    w.check_unharmed();
  }
  CHECK_FALSE(fs::exists(evil));
  CHECK_FALSE(fs::exists(copy));
  // A second statement after a read is never run (SQLite prepares the first).
  CHECK_NOTHROW(target.query("SELECT 1 AS one; DELETE FROM issues"));
  CHECK(target.query("SELECT * FROM issues ORDER BY id") == before);
  raw.release(acquired->second);
  CHECK(target.commit(issue_created{"3", "after"}) == 3);
  CHECK(w.registry().inspect("target").loads == 1);
  w.check_unharmed();
}

TEST_CASE("query parameters of a bad shape sent to a store actor are query_failed",
          "[reliability][hostile][query]") {
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("target"));
  target.commit(issue_created{"1", "one"});
  raw_client raw{w};
  auto acquired = raw.acquire(w.file_store<issue_schema>("target"));
  REQUIRE(acquired);
  const std::vector<std::tuple<std::string, std::string, std::string>> rows{
      {"SELECT ? AS v", "not json", "not valid JSON"},
      {"SELECT ? AS v", "{}", "must be a JSON array, not object"},
      {"SELECT ? AS v", R"(["\u00ff", )", "not valid JSON"},
      {"SELECT ? AS v", R"([{"$blob": "zz"}])", "not hexadecimal"},
      {"SELECT ? AS v", R"([{"$blob": "abc"}])", "odd number of digits"},
      {"SELECT ? AS v", R"([{"x": 1}])", "only {\"$blob\": \"<hex>\"} is accepted"},
      {"SELECT ? AS v", "[[1]]", "parameter 1 is a array"},
      {"SELECT ? AS v", "[18446744073709551615]", "does not fit an SQLite INTEGER"},
      {"SELECT ? AS v", "[1, 2]", "takes 1 parameters, 2 were given"},
  };
  for (const auto& [sql, params, cause] : rows) {
    INFO("params: " << params);
    auto r = raw.query(acquired->first, sql, params);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::query_failed);
    CHECK_THAT(r.error().message, Catch::Contains(cause));
    w.check_unharmed();
  }
  auto fine = raw.query(acquired->first, "SELECT ? AS v", R"([{"$blob": "00ff"}])");
  REQUIRE(fine);
  CHECK(nlohmann::json::parse(*fine) == nlohmann::json::parse(R"([{"v":{"$blob":"00ff"}}])"));
  raw.release(acquired->second);
  CHECK(target.commit(issue_created{"2", "after"}) == 2);
}

TEST_CASE("text that is not valid UTF-8 in a query or its result does not take the store down",
          "[reliability][hostile][query]") {
  // Rows and parameters travel as JSON text: a TEXT value holding invalid
  // UTF-8 must neither kill the store actor nor escape as a non-store_error.
  world w;
  auto target = w.registry().use(w.file_store<issue_schema>("target"));
  target.commit(issue_created{"1", "one"});
  const std::vector<std::pair<std::string, std::function<void()>>> rows{
      {"a result cast from a blob", [&] { target.query("SELECT CAST(x'ff' AS TEXT) AS t"); }},
      {"a literal in the SQL text", [&] { target.query("SELECT '\xff' AS t"); }},
      {"a bound parameter", [&] { target.query("SELECT ? AS t", std::string{"\xff"}); }},
      {"a subscription", [&] {
         auto sub = target.subscribe("SELECT CAST(x'fe' AS TEXT) AS t", [](const auto&) {});
       }},
  };
  for (const auto& [label, run] : rows) {
    INFO("invalid UTF-8 in " << label);
    try {
      run();  // an answer (bad bytes replaced) or a query_failed error are both fine
    } catch (const store_error& e) {
      CHECK(e.code() == errc::query_failed);
    } catch (const std::exception& e) {
      FAIL_CHECK("threw " << typeid(e).name() << " instead of store_error: " << e.what());
    }
    // The store is the same instance and still serves.
    CHECK(w.registry().inspect("target").state == multistore::store_state::active);
    CHECK(w.registry().inspect("target").loads == 1);
    try {
      CHECK(target.query("SELECT count(*) AS n FROM issues").at(0).at("n") == 1);
    } catch (const store_error& err) {
      FAIL_CHECK("the store no longer serves: " << err.what());
    }
    w.check_unharmed();
  }
}

TEST_CASE("a different schema for a cached id fails with schema_mismatch and the store keeps "
          "serving",
          "[reliability][hostile][schema]") {
  world w;
  auto shared = w.registry().use(w.file_store<issue_schema>("shared"));
  shared.commit(issue_created{"1", "one"});
  auto e = thrown_by([&] { w.registry().use(w.file_store<notes_schema>("shared")); });
  REQUIRE(e);
  CHECK(e->code() == errc::schema_mismatch);
  CHECK_THAT(e->what(), Catch::Contains("'shared' is in use with schema 'issue#")
                            && Catch::Contains("not 'notes#"));
  // The same through the registry's messages, and with a schema nobody
  // registered in this process.
  raw_client raw{w};
  auto r = raw.acquire(w.file_store<notes_schema>("shared"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::schema_mismatch);
  auto req = multistore::make_store_request(w.file_store<issue_schema>("unknown"), false);
  req.schema = "forged#0000000000000000";
  auto forged = raw.acquire_request(req);
  REQUIRE_FALSE(forged);
  CHECK(forged.error().code == errc::invalid_options);
  CHECK_THAT(forged.error().message, Catch::Contains("'forged#0000000000000000'")
                                         && Catch::Contains("not registered"));
  CHECK(shared.commit(issue_created{"2", "two"}) == 2);
  CHECK(shared.query("SELECT count(*) AS n FROM issues").at(0).at("n") == 2);
  CHECK(w.registry().inspect("shared").loads == 1);
  w.check_unharmed();
}

TEST_CASE("a store file written under another schema is refused and left as it was",
          "[reliability][hostile][schema]") {
  world w;
  {
    auto opts = w.file_store<issue_schema>("evolve");
    opts.gc_time = std::chrono::milliseconds{0};
    auto h = w.registry().use(opts);
    h.commit(issue_created{"1", "one"}, issue_created{"2", "two"});
  }
  w.wait_disposed("evolve");
  const auto file = w.data() / "evolve.sqlite";
  const auto bytes = fingerprint(file);
  for (int attempt = 0; attempt < 2; ++attempt) {  // load errors are not cached
    auto e = thrown_by([&] { w.registry().use(w.file_store<notes_schema>("evolve")); });
    REQUIRE(e);
    CHECK(e->code() == errc::schema_mismatch);
    CHECK_THAT(e->what(), Catch::Contains("'issue_created'") && Catch::Contains("'notes'"));
    CHECK(w.registry().inspect("evolve").state == multistore::store_state::disposed);
    CHECK(fingerprint(file) == bytes);
    w.check_unharmed();
  }
  auto h = w.registry().use(w.file_store<issue_schema>("evolve"));
  CHECK(h.query("SELECT count(*) AS n FROM issues").at(0).at("n") == 2);
}

TEST_CASE("a negative gc_time is refused with invalid_options and creates nothing",
          "[reliability][hostile][options]") {
  world w;
  const auto files_before = w.data_files();
  auto negative = w.file_store<issue_schema>("negative");
  negative.gc_time = std::chrono::milliseconds{-1};
  auto e = thrown_by([&] { w.registry().use(negative); });
  REQUIRE(e);
  CHECK(e->code() == errc::invalid_options);
  CHECK_THAT(e->what(), Catch::Contains("gc_time is negative"));
  CHECK(w.data_files() == files_before);
  w.check_unharmed();
}

TEST_CASE("a file adapter without a directory is refused with invalid_options",
          "[reliability][hostile][options]") {
  // Was a bug: store_request encoded memory_adapter as an empty directory, so
  // to_call_options() turns sqlite_adapter{""} into memory_adapter{} and the
  // check in validate(call_options) never sees it: the caller silently gets a
  // memory store and loses its data at disposal.
  world w;
  auto no_dir = store_options<issue_schema>{.store_id = "nodir",
                                            .storage = multistore::sqlite_adapter{""}};
  auto e = thrown_by([&] { w.registry().use(no_dir); });
  if (e) {
    CHECK(e->code() == errc::invalid_options);
    CHECK_THAT(e->what(), Catch::Contains("without a directory"));
  }
  w.check_unharmed();
}
