#pragma once

// What the actor-layer benchmarks (actors_bench, io_bench) share: the notes
// schema they commit to, and their result table. Each measure prints
// multistore's figure, the baseline measured in the same run, the ratio, the
// bar and PASS/FAIL (or info); the same rows can be written as JSON.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <multistore/multistore.hpp>

namespace ratio_table {

using bench_clock = std::chrono::steady_clock;

struct note_added {
  static constexpr std::string_view name = "note_added";
  std::string text;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(note_added, text)

struct notes_schema {
  static constexpr std::string_view name = "bench_notes";
  using events = multistore::event_list<note_added>;
  static void define(multistore::schema_builder& b) {
    b.table("notes", "CREATE TABLE notes (text TEXT NOT NULL)");
    b.materialize<note_added>([](const note_added& e, multistore::sql_writer& w) {
      w.exec("INSERT INTO notes (text) VALUES (?)", e.text);
    });
  }
};

/// A memory store of notes.
inline multistore::store_options<notes_schema> notes(
    std::string id, multistore::gc_duration gc = std::chrono::seconds{60}) {
  return {.store_id = std::move(id), .gc_time = gc};
}

struct measure {
  std::string name;
  double value = 0;
  double baseline = 0;
  std::string unit;
  double ratio = 0;
  std::string bar;  ///< "info" for a row without a bar
  bool pass = false;
};

inline std::vector<measure>& results() {
  static std::vector<measure> all;
  return all;
}

inline void print_header() {
  std::printf("%-48s %12s %12s %-8s %7s  %-8s %s\n", "measure", "multistore", "baseline", "unit",
              "ratio", "bar", "result");
}

inline void report(measure m) {
  // A measure without a bar is information, never counted as a pass.
  const char* result = m.bar == "info" ? "info" : m.pass ? "PASS" : "FAIL";
  std::printf("%-48s %12.6g %12.6g %-8s %6.2fx  %-8s %s\n", m.name.c_str(), m.value, m.baseline,
              m.unit.c_str(), m.ratio, m.bar.c_str(), result);
  std::fflush(stdout);
  results().push_back(std::move(m));
}

/// The median; of an even count, the mean of the middle two.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/// The value after `flag` on the command line ("" when absent).
inline std::string argument(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag)
      return argv[i + 1];
  return {};
}

/// Writes every reported row to `path` as a JSON array (nothing when empty).
inline void write_json(const std::string& path) {
  if (path.empty())
    return;
  nlohmann::json out = nlohmann::json::array();
  for (auto& m : results())
    out.push_back({{"measure", m.name}, {"multistore", m.value}, {"baseline", m.baseline},
                   {"unit", m.unit}, {"ratio", m.ratio}, {"bar", m.bar}, {"pass", m.pass}});
  std::ofstream{path} << out.dump(2) << '\n';
}

}  // namespace ratio_table
