// Fuzzes the type-erased commit path: events arrive as (name, JSON text)
// pairs, as the store actor receives them in a message, are parsed, and go to
// `store_engine::commit` of a memory store.
//
// Input: lines separated by '\n'. A line `name<TAB>args` is one event; a
// line without a tab is a name with empty (invalid) args. An empty line
// commits the batch collected so far, and the end of the input commits the
// rest; two empty lines in a row commit an empty batch.
//
//     item_added	{"id":"a","title":"first","qty":3}
//     note_logged	{"text":"hello"}
//
//     item_added	{"id":"a","title":"again","qty":1}
//
// Invariants, for every batch: the commit succeeds or fails with
// `invalid_event` or `storage_failed` and never crashes; a failed commit
// leaves the log and every state table exactly as before; a successful one
// grows the log by the batch size, returns the new head, stores each event's
// name and arguments unchanged, and adds one row per insert event.
//
// Then the batches that reached the engine go, all together, to
// `commit_group` on a second store: each must succeed or fail exactly as it
// did alone (same sequence number, same error code), and both stores must end
// with the same log and the same state.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/detail/json_depth.hpp"
#include "multistore/schema.hpp"
#include "multistore/store_engine.hpp"

// Named, not anonymous: the macros also define to_json, which the harness
// never calls, and clang flags unused functions in an anonymous namespace.
namespace event_decode_fuzz {

// -- the schema under test ----------------------------------------------------

struct item_added {
  static constexpr std::string_view name = "item_added";
  std::string id;
  std::string title;
  std::int64_t qty = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(item_added, id, title, qty)

struct item_renamed {
  static constexpr std::string_view name = "item_renamed";
  std::string id;
  std::string title;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(item_renamed, id, title)

struct note_logged {
  static constexpr std::string_view name = "note_logged";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(note_logged, text)

/// Three events; item_added can break the primary key or the CHECK.
struct fuzz_schema {
  static constexpr std::string_view name = "fuzz";
  using events = multistore::event_list<item_added, item_renamed, note_logged>;
  static void define(multistore::schema_builder& b) {
    b.table("items",
            "CREATE TABLE items (id TEXT PRIMARY KEY, title TEXT NOT NULL,"
            " qty INTEGER NOT NULL CHECK (qty >= 0))");
    b.table("notes", "CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    b.materialize<item_added>([](const item_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO items (id, title, qty) VALUES (?, ?, ?)", e.id, e.title, e.qty);
    });
    b.materialize<item_renamed>([](const item_renamed& e, multistore::sql_writer& w) {
      w.exec("UPDATE items SET title = ? WHERE id = ?", e.title, e.id);
    });
    b.materialize<note_logged>([](const note_logged& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
  }
};

}  // namespace event_decode_fuzz

namespace {

using namespace event_decode_fuzz;

// -- checking ----------------------------------------------------------------

/// Aborts with `what` when `ok` is false; libFuzzer saves the input.
void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "event_decode invariant broken: %s\n", what);
    std::abort();
  }
}

/// One event line of the input.
struct wire_event {
  std::string name;
  std::string args;
};

/// The documented rule for a float in an integer field: a whole number
/// within ±2^31.
bool fits_integer_field(const nlohmann::json& v) {
  if (!v.is_number_float())
    return true;
  const double d = v.get<double>();
  return std::isfinite(d) && d == std::trunc(d) && d >= -2147483648.0 && d <= 2147483647.0;
}

/// Whether the harness, independently of the engine's decoding, finds the
/// event acceptable: a schema name, arguments nested at most 256 levels (the
/// engine's own walk, pinned by a core test), and arguments that decode into
/// its type without a lossy number conversion.
bool decodes(const std::string& name, const nlohmann::json& args) {
  if (multistore::detail::nests_deeper_than(args, multistore::detail::max_args_depth))
    return false;
  try {
    if (name == item_added::name) {
      if (args.is_object() && args.contains("qty") && !fits_integer_field(args["qty"]))
        return false;
      (void)args.get<item_added>();
    }
    else if (name == item_renamed::name)
      (void)args.get<item_renamed>();
    else if (name == note_logged::name)
      (void)args.get<note_logged>();
    else
      return false;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

/// The whole observable state: log size and head, and both state tables.
nlohmann::json snapshot(multistore::store_engine& engine) {
  auto log = engine.query("SELECT count(*) AS n, coalesce(max(seq), 0) AS head FROM __events");
  auto items = engine.query("SELECT id, title, qty FROM items ORDER BY id");
  auto notes = engine.query("SELECT n, text FROM notes ORDER BY n");
  require(log && items && notes, "a snapshot query failed");
  return nlohmann::json{{"log", *log}, {"items", *items}, {"notes", *notes}};
}

std::uint64_t log_size(const nlohmann::json& snap) {
  return snap["log"][0]["n"].get<std::uint64_t>();
}

/// What one batch did on its own: its records (none when the store actor
/// refused it before the engine) and the engine's answer.
struct batch_outcome {
  std::vector<multistore::event_record> records;
  multistore::result<std::uint64_t> answer;
};

/// Sends one batch down the path the store actor takes and checks the
/// outcome; nullopt when the batch never reached the engine.
std::optional<batch_outcome> commit_batch(multistore::store_engine& engine,
                                          const std::vector<wire_event>& batch) {
  const auto before = snapshot(engine);
  const auto head = engine.head();
  require(head == log_size(before), "head() differs from the log");

  // The store actor's step: parse each text; one that is not JSON refuses the
  // whole batch with invalid_event before the engine sees it.
  std::vector<multistore::event_record> records;
  for (const auto& e : batch) {
    auto parsed = nlohmann::json::parse(e.args, nullptr, false);
    if (parsed.is_discarded()) {
      require(snapshot(engine) == before, "a refused batch changed the store");
      return std::nullopt;
    }
    records.push_back(multistore::event_record{e.name, std::move(parsed)});
  }

  const auto seq = engine.commit(records);
  const auto after = snapshot(engine);

  // The first event the harness itself finds unknown or undecodable.
  std::optional<std::size_t> first_bad;
  for (std::size_t i = 0; i < records.size() && !first_bad; ++i)
    if (!decodes(records[i].name, records[i].args))
      first_bad = i;

  if (!seq) {
    const auto code = seq.error().code;
    require(code == multistore::errc::invalid_event || code == multistore::errc::storage_failed,
            "a failed commit has an undocumented error code");
    require(!seq.error().message.empty(), "a failed commit has an empty message");
    require(after == before, "a failed commit changed the log or the state");
    require(engine.head() == head, "a failed commit moved the head");
    if (code == multistore::errc::invalid_event)
      require(first_bad.has_value(), "invalid_event for a batch the harness decodes");
    if (first_bad == std::size_t{0})
      require(code == multistore::errc::invalid_event,
              "a batch whose first event does not decode is not invalid_event");
    return batch_outcome{std::move(records), seq};
  }

  require(!first_bad, "a batch with an unknown or undecodable event was committed");
  require(*seq == head + records.size(), "commit returned the wrong sequence number");
  require(engine.head() == *seq, "head() differs from what commit returned");
  require(log_size(after) == log_size(before) + records.size(),
          "the log did not grow by the batch size");

  auto stored = engine.read_events(head);
  require(stored && stored->size() == records.size(), "read_events lost the batch");
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& s = (*stored)[i];
    require(s.seq == head + i + 1, "stored sequence numbers are not consecutive");
    require(s.name == records[i].name, "an event name changed in the log");
    require(s.args == records[i].args, "event arguments changed in the log");
    require(s.client_id == "client-fuzz" && s.session_id == "session-fuzz",
            "an event lost its client or session id");
  }

  std::size_t inserts = 0, notes = 0;
  for (const auto& r : records) {
    inserts += r.name == item_added::name;
    notes += r.name == note_logged::name;
  }
  require(after["items"].size() == before["items"].size() + inserts,
          "committed item_added events did not each add a row");
  require(after["notes"].size() == before["notes"].size() + notes,
          "committed note_logged events did not each add a row");
  return batch_outcome{std::move(records), seq};
}

/// The log without its times, and the state tables.
nlohmann::json contents(multistore::store_engine& engine) {
  auto log = engine.query("SELECT seq, name, args, client_id, session_id FROM __events ORDER BY seq");
  require(log.has_value(), "reading the log failed");
  auto snap = snapshot(engine);
  snap["events"] = *log;
  return snap;
}

/// Commits every batch of `alone` as one group on a fresh store and checks
/// that it is the same as committing them one by one on `engine`.
void check_group(multistore::store_engine& engine, const std::vector<batch_outcome>& alone) {
  auto opened = multistore::store_engine::open(multistore::schema_of<fuzz_schema>(), "group",
                                               multistore::memory_adapter{},
                                               {"client-fuzz", "session-fuzz"});
  require(opened.has_value(), "a memory store did not open");
  auto& group = **opened;
  std::vector<std::span<const multistore::event_record>> batches;
  for (const auto& b : alone)
    batches.emplace_back(b.records);
  const auto answers = group.commit_group(batches);
  require(answers.size() == alone.size(), "commit_group answered a different number of batches");
  for (std::size_t i = 0; i < alone.size(); ++i) {
    const auto& one = alone[i].answer;
    require(answers[i].has_value() == one.has_value(),
            "a batch succeeded in a group but failed alone, or the reverse");
    if (one)
      require(*answers[i] == *one, "a batch got another sequence number in a group");
    else
      require(answers[i].error().code == one.error().code,
              "a batch failed with another error code in a group");
  }
  require(group.head() == engine.head(), "the group ended at another head");
  require(contents(group) == contents(engine), "the group left another log or state");
  group.close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& schema = multistore::schema_of<fuzz_schema>();
  auto opened = multistore::store_engine::open(schema, "fuzz", multistore::memory_adapter{},
                                               {"client-fuzz", "session-fuzz"});
  require(opened.has_value(), "a memory store did not open");
  auto& engine = **opened;

  const std::string_view input{reinterpret_cast<const char*>(data), size};
  std::vector<wire_event> batch;
  std::vector<batch_outcome> reached;  // the batches the engine saw, in order
  auto commit = [&] {
    if (auto outcome = commit_batch(engine, batch))
      reached.push_back(std::move(*outcome));
    batch.clear();
  };
  std::size_t pos = 0;
  while (pos < input.size()) {
    auto end = input.find('\n', pos);
    if (end == std::string_view::npos)
      end = input.size();
    const auto line = input.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      commit();
      continue;
    }
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos)
      batch.push_back(wire_event{std::string{line}, {}});
    else
      batch.push_back(
          wire_event{std::string{line.substr(0, tab)}, std::string{line.substr(tab + 1)}});
  }
  if (!batch.empty())
    commit();
  check_group(engine, reached);

  engine.close();
  require(!engine.is_open(), "shutdown left the store open");
  return 0;
}
