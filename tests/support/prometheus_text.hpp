#pragma once

// A strict reader of Prometheus's text exposition format (0.0.4), enough to
// check what multistore writes: HELP and TYPE lines before a family's
// samples, valid names and labels, numeric values, histograms whose buckets
// are cumulative and end with +Inf equal to _count. Throws
// std::runtime_error with the line number on anything else.

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace prometheus_text {

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct exposition {
  std::map<std::string, std::string> types;  ///< family -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;
  std::vector<sample> samples;

  /// The value of the one sample `name` with `labels`; throws if absent.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels)
        return s.value;
    throw std::runtime_error("no sample " + name);
  }
};

inline exposition parse(const std::string& text) {
  static const std::regex name_re{R"([a-zA-Z_:][a-zA-Z0-9_:]*)"};
  static const std::regex help_re{R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))"};
  static const std::regex type_re{
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))"};
  static const std::regex sample_re{
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([^ ]+))"};
  static const std::regex label_re{R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))"};
  exposition out;
  std::istringstream in{text};
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(number) + ": " + why + ": " + line);
  };
  // The family a sample belongs to: histograms own _bucket, _sum and _count.
  auto family_of = [&](const std::string& name) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s{suffix};
      if (name.size() > s.size() && name.ends_with(s)) {
        auto base = name.substr(0, name.size() - s.size());
        if (auto t = out.types.find(base); t != out.types.end() && t->second == "histogram")
          return base;
      }
    }
    return name;
  };
  if (!text.empty() && text.back() != '\n')
    throw std::runtime_error("the text does not end with a newline");
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (line.empty())
      continue;
    if (line.starts_with("# HELP")) {
      if (!std::regex_match(line, m, help_re))
        fail("bad HELP line");
      if (out.help.count(m[1]))
        fail("second HELP");
      out.help[m[1]] = m[2];
    } else if (line.starts_with("# TYPE")) {
      if (!std::regex_match(line, m, type_re))
        fail("bad TYPE line");
      if (out.types.count(m[1]))
        fail("second TYPE");
      for (const auto& s : out.samples)
        if (family_of(s.name) == m[1].str())
          fail("TYPE after the family's samples");
      out.types[m[1]] = m[2];
    } else if (line.starts_with("#")) {
      continue;  // a comment
    } else {
      if (!std::regex_match(line, m, sample_re))
        fail("bad sample line");
      sample s;
      s.name = m[1];
      std::string labels = m[3];
      auto begin = labels.cbegin();
      std::smatch lm;
      while (begin != labels.cend()) {
        if (!std::regex_search(begin, labels.cend(), lm, label_re,
                               std::regex_constants::match_continuous))
          fail("bad labels");
        if (s.labels.count(lm[1]))
          fail("label twice");
        s.labels[lm[1]] = lm[2];
        begin = lm[0].second;
      }
      std::string v = m[4];
      if (v == "+Inf" || v == "-Inf" || v == "NaN") {
        s.value = v == "NaN"    ? std::numeric_limits<double>::quiet_NaN()
                  : v == "+Inf" ? std::numeric_limits<double>::infinity()
                                : -std::numeric_limits<double>::infinity();
      } else {
        char* end = nullptr;
        s.value = std::strtod(v.c_str(), &end);
        if (end != v.c_str() + v.size())
          fail("bad value");
      }
      auto family = family_of(s.name);
      if (!out.types.count(family))
        fail("sample without TYPE");
      if (out.types[family] == "counter" && !s.name.ends_with("_total"))
        fail("counter not named _total");
      out.samples.push_back(std::move(s));
    }
  }
  // Histograms: cumulative buckets in order, +Inf last and equal to _count.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram")
      continue;
    double last = -1, last_le = -std::numeric_limits<double>::infinity();
    bool inf = false;
    for (const auto& s : out.samples) {
      if (s.name != family + "_bucket")
        continue;
      auto le = s.labels.find("le");
      if (le == s.labels.end())
        throw std::runtime_error(family + ": bucket without le");
      double bound = le->second == "+Inf" ? std::numeric_limits<double>::infinity()
                                          : std::strtod(le->second.c_str(), nullptr);
      if (bound <= last_le || s.value < last)
        throw std::runtime_error(family + ": buckets not cumulative and ordered");
      last_le = bound;
      last = s.value;
      inf = le->second == "+Inf";
    }
    if (!inf)
      throw std::runtime_error(family + ": no +Inf bucket");
    if (out.value(family + "_count") != last)
      throw std::runtime_error(family + ": +Inf bucket differs from _count");
    (void)out.value(family + "_sum");
  }
  return out;
}

}  // namespace prometheus_text
