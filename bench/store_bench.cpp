// The store engine against raw SQLite, measured in the same run.
//
//   multistore_store_bench [--repetitions N] [--json FILE] [--raw-locking exclusive|normal]
//                          [--only commit1|commit100|reopen|create]
//
// Every figure is the median over the repetitions; each repetition measures
// multistore and its baseline back to back, so both see the same machine load.
// The raw baselines use the engine's connection settings (WAL, synchronous
// NORMAL, and by default locking_mode EXCLUSIVE as the engine uses) and
// prepared statements: the best a hand-written SQLite program does.

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

struct raw_db {
  sqlite3* db = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* insert = nullptr;

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
    check(sqlite3_prepare_v2(db, "BEGIN", -1, &begin, nullptr), db, "prepare");
    check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr), db, "prepare");
    check(sqlite3_prepare_v2(db, std::string{insert_item}.c_str(), -1, &insert, nullptr), db,
          "prepare");
  }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;
  ~raw_db() {
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }

  static void run(sqlite3_stmt* st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      die("raw step failed");
  }

  void insert_row(const item_added& e) {
    sqlite3_bind_int64(insert, 1, e.id);
    sqlite3_bind_text(insert, 2, e.title.data(), static_cast<int>(e.title.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert, 3, e.amount);
    run(insert);
  }

  void transaction(const std::vector<item_added>& rows) {
    run(begin);
    for (const auto& r : rows)
      insert_row(r);
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
  bool raw_exclusive = true;
  std::string only;  // run one measure: commit1, commit100, reopen or create (for profiling)
  bool runs(std::string_view name) const { return only.empty() || only == name; }
};

// Commits of `batch` events per transaction: events per second, multistore
// and raw, one pair of figures per repetition.
void measure_commits(const fs::path& root, const options& opt, int batch, int transactions,
                     std::vector<double>& ours, std::vector<double>& raw) {
  for (int rep = 0; rep < opt.repetitions; ++rep) {
    auto dir = root / ("commit-" + std::to_string(batch) + "-" + std::to_string(rep));
    fs::create_directories(dir);
    std::vector<item_added> rows;
    rows.reserve(static_cast<std::size_t>(batch));
    {
      auto engine = open_engine(dir, "store");
      multistore::store<bench_schema> s{*engine};
      std::int64_t next = 1;
      auto start = clock_type::now();
      if (batch == 1) {
        for (int t = 0; t < transactions; ++t)
          s.commit(make_item(next++));
      } else {
        std::vector<multistore::event_record> records;
        records.reserve(static_cast<std::size_t>(batch));
        for (int t = 0; t < transactions; ++t) {
          records.clear();
          for (int i = 0; i < batch; ++i) {
            auto item = make_item(next++);
            records.push_back({std::string{item_added::name}, nlohmann::json(item)});
          }
          if (!engine->commit(records))
            die("commit failed");
        }
      }
      ours.push_back(static_cast<double>(batch) * transactions / seconds_since(start));
    }
    {
      raw_db db{dir / "raw.sqlite", opt.raw_exclusive};
      std::int64_t next = 1;
      auto start = clock_type::now();
      for (int t = 0; t < transactions; ++t) {
        rows.clear();
        for (int i = 0; i < batch; ++i)
          rows.push_back(make_item(next++));
        db.transaction(rows);
      }
      raw.push_back(static_cast<double>(batch) * transactions / seconds_since(start));
    }
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
    raw_db db{dir / "raw.sqlite", opt.raw_exclusive};
    exec(db.db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
    exec(db.db, "INSERT INTO meta VALUES ('schema_hash', '0123456789abcdef')");
    std::vector<item_added> rows;
    for (std::int64_t i = 1; i <= 1000; ++i)
      rows.push_back(make_item(i));
    db.transaction(rows);
  }
  const auto raw_file = dir / "raw.sqlite";
  for (int rep = 0; rep < opt.repetitions; ++rep) {
    double ours_total = 0;
    for (int i = 0; i < opens; ++i) {
      auto start = clock_type::now();
      auto engine = open_engine(dir, "existing");
      ours_total += seconds_since(start);
      engine->shutdown();
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
        if (opt.raw_exclusive)
          exec(db, "PRAGMA locking_mode=EXCLUSIVE");
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

void print(const std::vector<outcome>& results, const options& opt) {
  std::printf("multistore store engine vs raw SQLite %s (WAL, synchronous=NORMAL, raw locking_mode=%s),"
              " median of %d repetitions\n\n",
              sqlite3_libversion(), opt.raw_exclusive ? "EXCLUSIVE" : "NORMAL", opt.repetitions);
  std::printf("%-34s %16s %16s %8s %8s  %s\n", "measure", "multistore", "raw sqlite", "ratio",
              "bar", "result");
  for (const auto& r : results) {
    char ours[32];
    char base[32];
    char bar[16];
    std::snprintf(ours, sizeof ours, "%.3f %s", r.multistore, r.unit.c_str());
    std::snprintf(base, sizeof base, "%.3f %s", r.baseline, r.unit.c_str());
    std::snprintf(bar, sizeof bar, "%s %.2fx", r.higher_is_better ? ">=" : "<=", r.bar);
    std::printf("%-34s %16s %16s %7.2fx %8s  %s\n", r.name.c_str(), ours, base, r.ratio, bar,
                r.pass ? "PASS" : "FAIL");
  }
}

void write_json(const std::vector<outcome>& results, const options& opt) {
  auto out = nlohmann::json::object();
  out["benchmark"] = "multistore_store_bench";
  out["sqlite_version"] = sqlite3_libversion();
  out["repetitions"] = opt.repetitions;
  out["raw_locking_mode"] = opt.raw_exclusive ? "exclusive" : "normal";
  auto& list = out["results"] = nlohmann::json::array();
  for (const auto& r : results)
    list.push_back({{"name", r.name},
                    {"unit", r.unit},
                    {"multistore", r.multistore},
                    {"baseline", r.baseline},
                    {"ratio", r.ratio},
                    {"bar", r.bar},
                    {"comparison", r.higher_is_better ? ">=" : "<="},
                    {"pass", r.pass}});
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
    else if (arg == "--raw-locking")
      opt.raw_exclusive = value() != "normal";
    else
      die("usage: multistore_store_bench [--repetitions N] [--json FILE] "
          "[--raw-locking exclusive|normal] [--only commit1|commit100|reopen|create]");
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = parse(argc, argv);
  scratch_dir scratch;
  std::vector<outcome> results;
  if (opt.runs("commit1")) {
    std::vector<double> ours, raw;
    measure_commits(scratch.path(), opt, 1, 3000, ours, raw);
    results.push_back(compare("commit, 1 event per transaction", "ev/s", ours, raw, 0.7, true));
  }
  if (opt.runs("commit100")) {
    std::vector<double> ours, raw;
    measure_commits(scratch.path(), opt, 100, 300, ours, raw);
    results.push_back(compare("commit, 100 events per transaction", "ev/s", ours, raw, 0.5, true));
  }
  if (opt.runs("reopen")) {
    std::vector<double> ours, raw;
    measure_reopen(scratch.path(), opt, 100, ours, raw);
    results.push_back(compare("reopen of an existing file store", "ms", ours, raw, 2.0, false));
  }
  if (opt.runs("create")) {
    std::vector<double> ours, raw;
    measure_create(scratch.path(), opt, 10, ours, raw);
    results.push_back(compare("creation of a new file store", "ms", ours, raw, 2.0, false));
  }
  print(results, opt);
  if (!opt.json_path.empty())
    write_json(results, opt);
  return 0;
}
