#pragma once

// Small helpers for the scale bench: the result table and its JSON, medians,
// resident memory, a scratch directory and a parallel loop. Bench only.

#include <malloc.h>

#include "multistore/process_usage.hpp"
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace multistore::bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point start) {
  return std::chrono::duration<double>(bench_clock::now() - start).count();
}

inline double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/// How a row's ratio (multistore / baseline) is judged.
enum class bar_kind : std::uint8_t {
  info,      ///< no bar: reported as measured
  at_least,  ///< ratio >= bar (throughput)
  at_most,   ///< ratio <= bar (time, memory)
};

/// One printed measure.
struct row {
  std::string name;
  std::string unit;
  double multistore = 0;
  double baseline = 0;
  bar_kind kind = bar_kind::info;
  double bar = 0;
  nlohmann::json extra = nlohmann::json::object();  ///< per-repetition figures, counts

  double ratio() const { return baseline != 0 ? multistore / baseline : 0; }
  bool pass() const {
    switch (kind) {
      case bar_kind::at_least:
        return ratio() >= bar;
      case bar_kind::at_most:
        return ratio() <= bar;
      case bar_kind::info:
        break;
    }
    return true;
  }
  std::string bar_text() const {
    if (kind == bar_kind::info)
      return "info";
    char out[32];
    std::snprintf(out, sizeof out, "%s %.2fx", kind == bar_kind::at_least ? ">=" : "<=", bar);
    return out;
  }
  std::string result_text() const {
    return kind == bar_kind::info ? "info" : (pass() ? "PASS" : "FAIL");
  }
};

inline std::string format_value(double v, const std::string& unit) {
  char out[48];
  if (v >= 10000)
    std::snprintf(out, sizeof out, "%.0f %s", v, unit.c_str());
  else if (v >= 100)
    std::snprintf(out, sizeof out, "%.1f %s", v, unit.c_str());
  else
    std::snprintf(out, sizeof out, "%.3f %s", v, unit.c_str());
  return out;
}

/// Prints rows as they come and keeps them for the JSON file.
class report {
 public:
  void header(const char* title) const {
    std::printf("%s\n\n%-76s %18s %18s %8s %9s  %s\n", title, "measure (baseline)", "multistore",
                "baseline", "ratio", "bar", "result");
    std::fflush(stdout);
  }

  void section(const std::string& text) const {
    std::printf("-- %s\n", text.c_str());
    std::fflush(stdout);
  }

  void add(row r) {
    std::printf("%-76s %18s %18s %7.3fx %9s  %s\n", r.name.c_str(),
                format_value(r.multistore, r.unit).c_str(),
                format_value(r.baseline, r.unit).c_str(), r.ratio(), r.bar_text().c_str(),
                r.result_text().c_str());
    std::fflush(stdout);
    rows_.push_back(std::move(r));
  }

  nlohmann::json to_json(nlohmann::json header) const {
    auto& list = header["results"] = nlohmann::json::array();
    for (const auto& r : rows_) {
      nlohmann::json j{{"name", r.name},         {"unit", r.unit},
                       {"multistore", r.multistore}, {"baseline", r.baseline},
                       {"ratio", r.ratio()},      {"bar", r.bar_text()},
                       {"result", r.result_text()}};
      if (r.kind != bar_kind::info)
        j["pass"] = r.pass();
      if (!r.extra.empty())
        j["details"] = r.extra;
      list.push_back(std::move(j));
    }
    return header;
  }

  std::size_t failures() const {
    return static_cast<std::size_t>(
        std::count_if(rows_.begin(), rows_.end(), [](const row& r) { return !r.pass(); }));
  }

 private:
  std::vector<row> rows_;
};

/// Resident set size in bytes from /proc/self/statm, after malloc_trim(0):
/// trimming hands freed heap pages back to the kernel, so the figure tracks
/// live memory instead of the allocator's high-water mark.
inline double rss_bytes() {
  malloc_trim(0);
  return static_cast<double>(multistore::resident_bytes());
}

inline double mib(double bytes) {
  return bytes / (1024.0 * 1024.0);
}

/// Calls `fn(i)` for i in [0, n) from `threads` threads.
template <class Fn>
void parallel_for(std::size_t threads, std::size_t n, Fn fn) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  threads = std::max<std::size_t>(1, std::min(threads, n));
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < n; i = next++)
        fn(i);
    });
  for (auto& t : pool)
    t.join();
}

/// A fresh directory under the system's temporary directory, removed at the end.
class scratch_dir {
 public:
  explicit scratch_dir(const std::string& prefix) {
    path_ = std::filesystem::temp_directory_path()
            / (prefix + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace multistore::bench
