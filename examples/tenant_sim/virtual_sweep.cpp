// Sweeps of tenant_sim --virtual and their SVG chart (a small writer: two
// panels of polylines on a shared time axis).

#include "virtual_sweep.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace tenant_sim {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto unit = text.substr(used);
  double ms = unit == "ms" ? 1 : unit == "s" ? 1e3 : unit == "m" ? 6e4 : unit == "h" ? 3.6e6
            : unit == "d" ? 8.64e7 : -1;
  if (ms < 0 || !std::isfinite(value) || value <= 0 || value * ms > 8.64e11)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(value * ms)};
}

namespace {

/// The comma-separated items of `list`, each once and none empty.
tl::expected<std::vector<std::string>, std::string> items(const std::string& list,
                                                          const std::string& flag) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::stringstream in{list};
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      return tl::unexpected(flag + ": an empty value in '" + list + "'");
    if (!seen.insert(item).second)
      return tl::unexpected(flag + ": '" + item + "' is given twice");
    out.push_back(item);
  }
  if (out.empty() || list.back() == ',')
    return tl::unexpected(flag + " takes a comma-separated list, not '" + list + "'");
  if (out.size() > 12)
    return tl::unexpected(flag + ": at most 12 values, not " + std::to_string(out.size()));
  return out;
}

}  // namespace

tl::expected<sweep, std::string> sweep_gc(const std::string& list, const virtual_model& base) {
  auto values = items(list, "--sweep-gc");
  if (!values)
    return tl::unexpected(values.error());
  sweep s{.parameter = "gc_time", .values = *values, .models = {}};
  for (const auto& v : s.values) {
    auto d = v == "0" ? std::optional{std::chrono::milliseconds{0}} : parse_duration(v);
    if (!d)
      return tl::unexpected("--sweep-gc: '" + v + "' is not a duration such as 0, 500ms, 10s, 5m or 1h");
    auto m = base;
    m.gc_time = *d;
    s.models.push_back(m);
  }
  return s;
}

tl::expected<sweep, std::string> sweep_limit(const std::string& list, const virtual_model& base) {
  auto values = items(list, "--sweep-limit");
  if (!values)
    return tl::unexpected(values.error());
  sweep s{.parameter = "max_open_stores", .values = *values, .models = {}};
  for (const auto& v : s.values) {
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
      n = std::stoull(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.front() == '-' || n < 1 || n > 100'000'000)
      return tl::unexpected("--sweep-limit: '" + v + "' is not a number of stores from 1 to 100000000");
    auto m = base;
    m.max_open_stores = static_cast<std::size_t>(n);
    s.models.push_back(m);
  }
  return s;
}

nlohmann::json sweep_json(const sweep& s, const std::vector<sweep_run>& runs) {
  nlohmann::json out;
  if (!runs.empty())
    out["model"] = runs.front().report.to_json()["model"];
  out["sweep"] = s.parameter;
  auto list = nlohmann::json::array();
  for (const auto& r : runs) {
    auto one = figures_json(r.report.total, r.report.model);
    one["value"] = s.parameter == "max_open_stores" ? nlohmann::json(r.report.model.max_open_stores)
                                                    : nlohmann::json(r.value);
    one["gc_time_ms"] = r.report.model.gc_time.count();
    one["max_open_stores"] = r.report.model.max_open_stores;
    list.push_back(std::move(one));
  }
  out["runs"] = std::move(list);
  return out;
}

// -- the chart -------------------------------------------------------------------

namespace {

/// A step of 1, 2 or 5 times a power of ten that cuts [0, top] into at most
/// `most` pieces.
double nice_step(double top, int most) {
  if (top <= 0)
    return 1;
  double raw = top / most;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * power >= raw)
      return f * power;
  return 10 * power;
}

std::string number(double v) {
  char buf[32];
  if (std::abs(v - std::round(v)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                                   "#393b79", "#637939"};

/// One panel: y values per bucket for each run.
struct panel {
  std::string title;
  std::string unit;
  std::vector<std::vector<double>> lines;
};

}  // namespace

std::string svg_chart(const std::string& parameter, const std::vector<sweep_run>& runs) {
  const double width = 960, left = 80, right = 220, top_margin = 50, panel_h = 230, gap = 70;
  const double plot_w = width - left - right;
  const double height = top_margin + 2 * panel_h + gap + 60;
  double duration_h = runs.empty() ? 1 : static_cast<double>(runs.front().report.model.duration.count()) / 3.6e6;
  bool in_minutes = duration_h < 2;
  double x_max = in_minutes ? duration_h * 60 : duration_h;

  panel open{"Stores open (mean of the samples at session starts)", "stores", {}};
  panel waits{"Sessions that waited for a load", "per virtual minute", {}};
  // Each bucket's middle on the time axis (the last bucket may be shorter).
  std::vector<double> middles;
  for (const auto& r : runs) {
    std::vector<double> o, w;
    const double bucket_ms = static_cast<double>(r.report.bucket.count());
    const double end_ms = static_cast<double>(r.report.model.duration.count());
    double last_open = 0;
    middles.clear();
    for (std::size_t k = 0; k < r.report.buckets.size(); ++k) {
      const auto& b = r.report.buckets[k];
      double start = bucket_ms * static_cast<double>(k);
      double length = std::min(bucket_ms, end_ms - start);
      middles.push_back((start + length / 2) / (in_minutes ? 6e4 : 3.6e6));
      if (b.sessions > 0)
        last_open = b.open_mean;
      o.push_back(last_open);
      w.push_back(length > 0 ? static_cast<double>(b.waited) / (length / 6e4) : 0);
    }
    open.lines.push_back(std::move(o));
    waits.lines.push_back(std::move(w));
  }

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">tenant_sim --virtual"
      << (parameter.empty() ? "" : ": sweep of " + escape(parameter)) << "</text>\n";

  double x_step = nice_step(x_max, 12);
  auto x_of = [&](double x) { return left + plot_w * (x_max > 0 ? x / x_max : 0); };

  auto draw = [&](const panel& p, double y0) {
    double y_max = 0;
    for (const auto& line : p.lines)
      for (double v : line)
        y_max = std::max(y_max, v);
    double y_step = nice_step(y_max, 5);
    double y_top = std::max(y_step, std::ceil(y_max / y_step) * y_step);
    auto y_of = [&](double y) { return y0 + panel_h - panel_h * y / y_top; };
    svg << "<text x=\"" << left << "\" y=\"" << y0 - 10 << "\" font-weight=\"bold\">" << escape(p.title)
        << "</text>\n";
    svg << "<text transform=\"translate(" << left - 55 << ',' << y0 + panel_h / 2
        << ") rotate(-90)\" text-anchor=\"middle\">" << escape(p.unit) << "</text>\n";
    for (double y = 0; y <= y_top + y_step / 2; y += y_step) {
      svg << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y_of(y) << "\" y2=\""
          << y_of(y) << "\" stroke=\"#ddd\"/>\n"
          << "<text x=\"" << left - 6 << "\" y=\"" << y_of(y) + 4 << "\" text-anchor=\"end\">"
          << number(y) << "</text>\n";
    }
    for (double x = 0; x <= x_max + x_step / 2; x += x_step)
      svg << "<line x1=\"" << x_of(x) << "\" x2=\"" << x_of(x) << "\" y1=\"" << y0 + panel_h << "\" y2=\""
          << y0 + panel_h + 5 << "\" stroke=\"black\"/>\n"
          << "<text x=\"" << x_of(x) << "\" y=\"" << y0 + panel_h + 18 << "\" text-anchor=\"middle\">"
          << number(x) << "</text>\n";
    svg << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << plot_w << "\" height=\"" << panel_h
        << "\" fill=\"none\" stroke=\"black\"/>\n";
    for (std::size_t i = 0; i < p.lines.size(); ++i) {
      const auto& line = p.lines[i];
      svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << palette[i % std::size(palette)]
          << "\" points=\"";
      for (std::size_t k = 0; k < line.size() && k < middles.size(); ++k)
        svg << x_of(middles[k]) << ',' << y_of(line[k]) << ' ';
      svg << "\"/>\n";
    }
  };
  draw(open, top_margin);
  double y1 = top_margin + panel_h + gap;
  draw(waits, y1);
  svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << y1 + panel_h + 40
      << "\" text-anchor=\"middle\">virtual time (" << (in_minutes ? "minutes" : "hours") << ")</text>\n";

  // The legend: one entry per run, with its overall loads and wait.
  double lx = left + plot_w + 20, ly = top_margin + 10;
  svg << "<text x=\"" << lx << "\" y=\"" << ly << "\" font-weight=\"bold\">"
      << escape(parameter.empty() ? "run" : parameter) << "</text>\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& t = runs[i].report.total;
    double y = ly + 22 + 40 * static_cast<double>(i);
    svg << "<line x1=\"" << lx << "\" x2=\"" << lx + 22 << "\" y1=\"" << y - 4 << "\" y2=\"" << y - 4
        << "\" stroke-width=\"3\" stroke=\"" << palette[i % std::size(palette)] << "\"/>\n"
        << "<text x=\"" << lx + 28 << "\" y=\"" << y << "\">" << escape(runs[i].value) << "</text>\n"
        << "<text x=\"" << lx + 28 << "\" y=\"" << y + 15 << "\" font-size=\"10\" fill=\"#555\">"
        << t.cold_loads + t.reloads << " loads, " << number(std::round(static_cast<double>(t.wait_us) / 1e3))
        << " ms waited</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace tenant_sim
