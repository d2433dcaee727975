// The store engine against raw SQLite, measured in the same run.
//
//   multistore_store_bench [--repetitions N] [--json FILE] [--only commit1|commit100|reopen|create]
//
// Every figure is the median over the repetitions; each repetition measures
// multistore and its baselines back to back, so all see the same machine load.
// Raw baselines are hand-written SQLite with prepared statements on a file
// database in WAL mode with synchronous=NORMAL, like the engine.
//
// The commit bars (DESIGN.md §6) compare with raw SQLite writing the same rows
// as the engine, in the engine's connection settings: an event-log row with
// its JSON arguments plus the state row, locking_mode=EXCLUSIVE, the floor of
// an event-sourced commit. The context lines compare the same multistore
// figures with the program a user would write without multistore (one state
// row per event, in SQLite's default locking mode and in EXCLUSIVE).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "multistore/schema.hpp"
#include "multistore/store.hpp"
#include "multistore/store_engine.hpp"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

// ---- the benchmark schema ----------------------------------------------------

struct item_added {
  static constexpr std::string_view name = "item_added";
  std::int64_t id = 0;
  std::string title;
  std::int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(item_added, id, title, amount)

constexpr std::string_view items_table =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, amount INTEGER NOT NULL)";
constexpr std::string_view insert_item = "INSERT INTO items (id, title, amount) VALUES (?, ?, ?)";

struct bench_schema {
  static constexpr std::string_view name = "bench";
  using events = multistore::event_list<item_added>;
  static void define(multistore::schema_builder& b) {
    b.table("items", std::string{items_table});
    b.materialize<item_added>([](const item_added& e, multistore::sql_writer& w) {
      w.exec(insert_item, e.id, e.title, e.amount);
    });
  }
};

item_added make_item(std::int64_t id) {
  return item_added{id, "item number " + std::to_string(id), id * 3};
}

// ---- raw SQLite ------------------------------------------------------------------

[[noreturn]] void die(const std::string& what) {
  std::cerr << "store_bench: " << what << "\n";
  std::exit(2);
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
    die(std::string{what} + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

void exec(sqlite3* db, std::string_view sql) {
  check(sqlite3_exec(db, std::string{sql}.c_str(), nullptr, nullptr, nullptr), db,
        std::string{sql}.c_str());
}

/// How a raw baseline writes each "event".
enum class raw_rows : std::uint8_t {
  state_row,      ///< the materialized row only: what a program without an event log writes
  log_and_state,  ///< an event-log row (JSON args, ids, time) plus the state row
};

struct raw_db {
  sqlite3* db = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* append = nullptr;
  std::int64_t seq = 0;

  raw_db(const fs::path& file, bool exclusive) {
    check(sqlite3_open_v2(file.c_str(), &db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr),
          db, "open");
    if (exclusive)
      exec(db, "PRAGMA locking_mode=EXCLUSIVE");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, items_table);
    exec(db,
         "CREATE TABLE events (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL,"
         " client_id TEXT, session_id TEXT, time_ms INTEGER)");
    prepare("BEGIN", &begin);
    prepare("COMMIT", &commit);
    prepare(insert_item, &insert);
    prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", &append);
  }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;
  ~raw_db() {
    for (auto* st : {begin, commit, insert, append})
      sqlite3_finalize(st);
    sqlite3_close(db);
  }

  void prepare(std::string_view sql, sqlite3_stmt** st) {
    check(sqlite3_prepare_v2(db, std::string{sql}.c_str(), -1, st, nullptr), db, "prepare");
  }

  static void run(sqlite3_stmt* st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      die("raw step failed");
  }

  static void bind_text(sqlite3_stmt* st, int index, std::string_view text) {
    sqlite3_bind_text(st, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }

  void insert_row(const item_added& e) {
    sqlite3_bind_int64(insert, 1, e.id);
    bind_text(insert, 2, e.title);
    sqlite3_bind_int64(insert, 3, e.amount);
    run(insert);
  }

  void append_event(const item_added& e, std::int64_t time_ms) {
    auto args = nlohmann::json(e).dump();
    sqlite3_bind_int64(append, 1, ++seq);
    bind_text(append, 2, item_added::name);
    bind_text(append, 3, args);
    bind_text(append, 4, "bench-client");
    bind_text(append, 5, "bench-session");
    sqlite3_bind_int64(append, 6, time_ms);
    run(append);
  }

  void transaction(const std::vector<item_added>& rows, raw_rows kind) {
    run(begin);
    const auto time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    for (const auto& r : rows) {
      if (kind == raw_rows::log_and_state)
        append_event(r, time_ms);
      insert_row(r);
    }
    run(commit);
  }
};

// ---- measuring -----------------------------------------------------------------------

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

struct outcome {
  std::string name;
  std::string unit;
  double multistore = 0;
  double baseline = 0;
  double ratio = 0;
  double bar = 0;
  bool higher_is_better = true;  // throughput: ratio >= bar; time: ratio <= bar
  bool pass = false;
};

outcome compare(std::string name, std::string unit, const std::vector<double>& ours,
                const std::vector<double>& raw, double bar, bool higher_is_better) {
  outcome o;
  o.name = std::move(name);
  o.unit = std::move(unit);
  o.multistore = median(ours);
  o.baseline = median(raw);
  o.ratio = o.multistore / o.baseline;
  o.bar = bar;
  o.higher_is_better = higher_is_better;
  o.pass = higher_is_better ? o.ratio >= bar : o.ratio <= bar;
  return o;
}

class scratch_dir {
 public:
  scratch_dir() {
    path_ = fs::temp_directory_path() / ("multistore-bench-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<multistore::store_engine> open_engine(const fs::path& dir, const std::string& id) {
  auto engine = multistore::store_engine::open(multistore::schema_of<bench_schema>(), id,
                                               multistore::sqlite_adapter{dir},
                                               {"bench-client", "bench-session"});
  if (!engine)
    die("open " + id + ": " + engine.error().message);
  return std::move(*engine);
}

struct options {
  int repetitions = 7;
  std::string json_path;
  std::string only;  // run one measure: commit1, commit100, reopen or create (for profiling)
  bool runs(std::string_view name) const { return only.empty() || only == name; }
};

/// One raw variant of the commit measures.
struct raw_variant {
  std::string label;
  raw_rows rows;
  bool exclusive;
};

// WAL and synchronous=NORMAL as the engine; the last is the bars' baseline.
const std::vector<raw_variant> raw_variants{
    {"raw state row", raw_rows::state_row, false},
    {"raw state row, locking_mode=EXCLUSIVE", raw_rows::state_row, true},
    {"raw log row + state row, EXCLUSIVE", raw_rows::log_and_state, true},
};

double multistore_commits(const fs::path& dir, int batch, int transactions) {
  auto engine = open_engine(dir, "store");
  multistore::store<bench_schema> s{*engine};
  std::int64_t next = 1;
  auto start = clock_type::now();
  if (batch == 1) {
    for (int t = 0; t < transactions; ++t)
      s.commit(make_item(next++));
  } else {
    // The type-erased path, as commits arrive in messages: encode, then commit.
    std::vector<multistore::event_record> records;
    records.reserve(static_cast<std::size_t>(batch));
    for (int t = 0; t < transactions; ++t) {
      records.clear();
      for (int i = 0; i < batch; ++i)
        records.push_back({std::string{item_added::name}, nlohmann::json(make_item(next++))});
      if (!engine->commit(records))
        die("commit failed");
    }
  }
  return static_cast<double>(batch) * transactions / seconds_since(start);
}

double raw_commits(const fs::path& file, const raw_variant& variant, int batch,
                   int transactions) {
  raw_db db{file, variant.exclusive};
  std::vector<item_added> rows;
  rows.reserve(static_cast<std::size_t>(batch));
  std::int64_t next = 1;
  auto start = clock_type::now();
  for (int t = 0; t < transactions; ++t) {
    rows.clear();
    for (int i = 0; i < batch; ++i)
      rows.push_back(make_item(next++));
    db.transaction(rows, variant.rows);
  }
  return static_cast<double>(batch) * transactions / seconds_since(start);
}

// Commits of `batch` events per transaction, in events per second: one
// figure per repetition for multistore and for each raw variant.
void measure_commits(const fs::path& root, const options& opt, int batch, int transactions,
                     std::vector<double>& ours, std::vector<std::vector<double>>& raw) {
  raw.assign(raw_variants.size(), {});
  for (int rep = 0; rep < opt.repetitions; ++rep) {
    auto dir = root / ("commit-" + std::to_string(batch) + "-" + std::to_string(rep));
    fs::create_directories(dir);
    ours.push_back(multistore_commits(dir, batch, transactions));
    for (std::size_t v = 0; v < raw_variants.size(); ++v)
      raw[v].push_back(
          raw_commits(dir / ("raw-" + std::to_string(v) + ".sqlite"), raw_variants[v], batch,
                      transactions));
    fs::remove_all(dir);
  }
}

// Opening an existing store (1000 events in its log): milliseconds per open.
void measure_reopen(const fs::path& root, const options& opt, int opens,
                    std::vector<double>& ours, std::vector<double>& raw) {
  auto dir = root / "reopen";
  fs::create_directories(dir);
  {
    auto engine = open_engine(dir, "existing");
    multistore::store<bench_schema> s{*engine};
    for (std::int64_t i = 1; i <= 1000; ++i)
      s.commit(make_item(i));
  }
  {
    // The raw twin: the same rows plus a meta row holding a schema hash.
    raw_db db{dir / "raw.sqlite", false};
    exec(db.db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
    exec(db.db, "INSERT INTO meta VALUES ('schema_hash', '0123456789abcdef')");
    std::vector<item_added> rows;
    for (std::int64_t i = 1; i <= 1000; ++i)
      rows.push_back(make_item(i));
    db.transaction(rows, raw_rows::state_row);
  }
  const auto raw_file = dir / "raw.sqlite";
  for (int rep = 0; rep < opt.repetitions; ++rep) {
    double ours_total = 0;
    for (int i = 0; i < opens; ++i) {
      auto start = clock_type::now();
      auto engine = open_engine(dir, "existing");
      ours_total += seconds_since(start);
      engine->close();
    }
    ours.push_back(ours_total / opens * 1e3);

    double raw_total = 0;
    for (int i = 0; i < opens; ++i) {
      auto start = clock_type::now();
      sqlite3* db = nullptr;
      check(sqlite3_open_v2(raw_file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr),
            db, "open");
      sqlite3_stmt* st = nullptr;
      check(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_hash'", -1, &st,
                               nullptr),
            db, "prepare");
      if (sqlite3_step(st) != SQLITE_ROW ||
          std::string_view{reinterpret_cast<const char*>(sqlite3_column_text(st, 0))}
              != "0123456789abcdef")
        die("raw schema check failed");
      sqlite3_finalize(st);
      raw_total += seconds_since(start);
      sqlite3_close(db);
    }
    raw.push_back(raw_total / opens * 1e3);
  }
}

// Creating a new store: milliseconds per creation.
void measure_create(const fs::path& root, const options& opt, int creates,
                    std::vector<double>& ours, std::vector<double>& raw) {
  for (int rep = 0; rep < opt.repetitions; ++rep) {
    auto dir = root / ("create-" + std::to_string(rep));
    fs::create_directories(dir);
    double ours_total = 0;
    double raw_total = 0;
    for (int i = 0; i < creates; ++i) {
      {
        auto start = clock_type::now();
        auto engine = open_engine(dir, "new-" + std::to_string(i));
        ours_total += seconds_since(start);
      }
      {
        auto start = clock_type::now();
        sqlite3* db = nullptr;
        auto file = dir / ("raw-" + std::to_string(i) + ".sqlite");
        check(sqlite3_open_v2(file.c_str(), &db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              nullptr),
              db, "open");
        exec(db, "PRAGMA journal_mode=WAL");
        exec(db, "PRAGMA synchronous=NORMAL");
        exec(db, "BEGIN");
        exec(db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
        exec(db, items_table);
        exec(db, "INSERT INTO meta VALUES ('schema_hash', '0123456789abcdef')");
        exec(db, "COMMIT");
        raw_total += seconds_since(start);
        sqlite3_close(db);
      }
    }
    ours.push_back(ours_total / creates * 1e3);
    raw.push_back(raw_total / creates * 1e3);
    fs::remove_all(dir);
  }
}

void print_row(const outcome& r) {
  char ours[32];
  char base[32];
  char bar[16];
  std::snprintf(ours, sizeof ours, "%.3f %s", r.multistore, r.unit.c_str());
  std::snprintf(base, sizeof base, "%.3f %s", r.baseline, r.unit.c_str());
  if (r.bar > 0)
    std::snprintf(bar, sizeof bar, "%s %.2fx", r.higher_is_better ? ">=" : "<=", r.bar);
  else
    std::snprintf(bar, sizeof bar, "-");
  std::printf("%-72s %18s %18s %7.2fx %8s  %s\n", r.name.c_str(), ours, base, r.ratio, bar,
              r.bar > 0 ? (r.pass ? "PASS" : "FAIL") : "info");
}

void print(const std::vector<outcome>& results, const std::vector<outcome>& context,
           const options& opt) {
  std::printf("multistore store engine vs raw SQLite %s, file databases, WAL, synchronous=NORMAL,"
              " median of %d repetitions\n\n",
              sqlite3_libversion(), opt.repetitions);
  std::printf("%-72s %18s %18s %8s %8s  %s\n", "measure (baseline)", "multistore", "baseline",
              "ratio", "bar", "result");
  for (const auto& r : results)
    print_row(r);
  if (!context.empty()) {
    std::printf("\ncontext: the same multistore figures against other raw baselines\n");
    for (const auto& r : context)
      print_row(r);
  }
}

void write_json(const std::vector<outcome>& results, const std::vector<outcome>& context,
                const options& opt) {
  auto out = nlohmann::json::object();
  out["benchmark"] = "multistore_store_bench";
  out["sqlite_version"] = sqlite3_libversion();
  out["repetitions"] = opt.repetitions;
  auto to_json = [](const outcome& r) {
    nlohmann::json j{{"name", r.name},       {"unit", r.unit},   {"multistore", r.multistore},
                     {"baseline", r.baseline}, {"ratio", r.ratio}};
    if (r.bar > 0) {
      j["bar"] = r.bar;
      j["comparison"] = r.higher_is_better ? ">=" : "<=";
      j["pass"] = r.pass;
    }
    return j;
  };
  auto& list = out["results"] = nlohmann::json::array();
  for (const auto& r : results)
    list.push_back(to_json(r));
  auto& extra = out["context"] = nlohmann::json::array();
  for (const auto& r : context)
    extra.push_back(to_json(r));
  std::ofstream file{opt.json_path};
  file << out.dump(2) << "\n";
  if (!file)
    die("cannot write " + opt.json_path);
}

options parse(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(std::string{arg} + " needs a value");
      return argv[++i];
    };
    if (arg == "--json")
      opt.json_path = value();
    else if (arg == "--repetitions")
      opt.repetitions = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--only")
      opt.only = value();
    else
      die("usage: multistore_store_bench [--repetitions N] [--json FILE] "
          "[--only commit1|commit100|reopen|create]");
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = parse(argc, argv);
  scratch_dir scratch;
  std::vector<outcome> results;
  std::vector<outcome> context;
  auto commits = [&](const char* name, int batch, int transactions, double bar) {
    std::vector<double> ours;
    std::vector<std::vector<double>> raw;
    measure_commits(scratch.path(), opt, batch, transactions, ours, raw);
    const std::size_t same_rows = raw_variants.size() - 1;
    for (std::size_t v = 0; v < raw_variants.size(); ++v) {
      auto label = std::string{name} + " (" + raw_variants[v].label + ")";
      if (v == same_rows)
        results.push_back(compare(label, "ev/s", ours, raw[v], bar, true));
      else
        context.push_back(compare(label, "ev/s", ours, raw[v], 0, true));
    }
  };
  if (opt.runs("commit1"))
    commits("commit, 1 event per transaction", 1, 3000, 0.9);
  if (opt.runs("commit100"))
    commits("commit, 100 events per transaction", 100, 300, 0.9);
  if (opt.runs("reopen")) {
    std::vector<double> ours, raw;
    measure_reopen(scratch.path(), opt, 100, ours, raw);
    results.push_back(compare("reopen of an existing store (raw open + meta row read)", "ms",
                              ours, raw, 2.0, false));
  }
  if (opt.runs("create")) {
    std::vector<double> ours, raw;
    measure_create(scratch.path(), opt, 10, ours, raw);
    results.push_back(
        compare("creation of a new store (raw create + tables)", "ms", ours, raw, 1.5, false));
  }
  print(results, context, opt);
  if (!opt.json_path.empty())
    write_json(results, context, opt);
  return 0;
}
