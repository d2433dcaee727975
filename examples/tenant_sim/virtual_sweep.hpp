#pragma once

// tenant_sim --virtual --sweep-gc / --sweep-limit: the same traffic once per
// value of one parameter, a comparison of the runs, and their chart.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "virtual_sim.hpp"

namespace tenant_sim {

/// "90s", "30m", "24h", "2d", "500ms" as milliseconds (more than 0, at
/// most 10 000 days); nullopt for anything else.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

/// One swept parameter: the values as given and the model of each run.
struct sweep {
  std::string parameter;  ///< "gc_time" or "max_open_stores"; empty: one run
  std::vector<std::string> values;
  std::vector<virtual_model> models;
};

/// "1s,10s,60s,5m" over `base` (gc_time of the issue stores; "0" is allowed).
tl::expected<sweep, std::string> sweep_gc(const std::string& list, const virtual_model& base);
/// "500,2000" over `base` (max_open_stores, each at least 1).
tl::expected<sweep, std::string> sweep_limit(const std::string& list, const virtual_model& base);

/// One value's run, for reports and charts.
struct sweep_run {
  std::string value;
  virtual_report report;
};

/// The report of a sweep: the first run's model, the parameter, and `runs`
/// (one object per value: `value` and that run's overall figures).
nlohmann::json sweep_json(const sweep& s, const std::vector<sweep_run>& runs);

/// A self-contained SVG chart: stores open (mean per bucket) and sessions
/// that waited for a load (per virtual minute) over virtual time, one line
/// per run, with axes, units and a legend.
std::string svg_chart(const std::string& parameter, const std::vector<sweep_run>& runs);

}  // namespace tenant_sim
