// issue_load — a load generator for issue_server: C keep-alive connections
// drive a mix of reads (80%), creates, status changes and comments over
// Zipf-popular workspaces and issues while L live streams stay open; every
// answer is checked. Prints throughput and latency per route, errors, and a
// JSON report; --ledger records every acknowledged write, and --verify
// checks a ledger against a (restarted) server.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct config {
  std::string url = "http://127.0.0.1:8080";
  std::string tokens_file;
  int connections = 16;
  double duration_s = 10;
  int workspaces = 8;
  int issues = 20;  ///< created per workspace before the run
  int live = 4;
  std::uint64_t seed = 1;
  std::string json_file;
  std::string ledger_file;
  std::string verify_file;
  bool until_gone = false;  ///< a server that goes away ends the run (the kill trial)
};

/// The routes measured, in report order.
enum route { get_issue, list_issues, create_issue, set_status, add_comment, route_count };
constexpr const char* route_names[] = {"GET issue", "GET issues", "POST issue", "PATCH status",
                                       "POST comment"};

struct target {
  std::string host;
  int port = 0;
};

std::optional<target> parse_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (!std::string_view{url}.starts_with(scheme))
    return std::nullopt;
  auto rest = url.substr(scheme.size());
  if (auto slash = rest.find('/'); slash != std::string::npos)
    rest.erase(slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return target{rest, 80};
  try {
    return target{rest.substr(0, colon), std::stoi(rest.substr(colon + 1))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Workspace ids with their tokens ("" without a tokens file).
std::vector<std::pair<std::string, std::string>> workspaces_of(const config& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  if (cfg.tokens_file.empty()) {
    for (int w = 0; w < cfg.workspaces; ++w)
      out.emplace_back("load-" + std::to_string(w), "");
    return out;
  }
  std::ifstream in{cfg.tokens_file};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    std::istringstream words{line};
    std::string ws, token;
    if (words >> ws >> token)
      out.emplace_back(ws, token);
  }
  return out;
}

/// What one thread saw: latencies per route (µs) and errors.
struct tally {
  std::vector<std::uint32_t> latency[route_count];
  std::uint64_t errors[route_count] = {};
  std::vector<std::string> first_errors;
  std::uint64_t live_events = 0;

  void error(route r, std::string what) {
    ++errors[r];
    if (first_errors.size() < 5)
      first_errors.push_back(std::string{route_names[r]} + ": " + std::move(what));
  }
};

/// The acknowledged writes, one JSON object per line.
class ledger {
 public:
  explicit ledger(const std::string& file) {
    if (!file.empty())
      out_.open(file);
  }
  void write(const json& entry) {
    if (!out_.is_open())
      return;
    std::lock_guard guard{mtx_};
    out_ << entry.dump() << '\n';
    out_.flush();
  }

 private:
  std::mutex mtx_;
  std::ofstream out_;
};

/// Zipf-like popularity over n items (weight 1/(k+1)^1.1).
std::discrete_distribution<int> zipf(int n) {
  std::vector<double> w;
  for (int k = 0; k < n; ++k)
    w.push_back(1.0 / std::pow(k + 1, 1.1));
  return {w.begin(), w.end()};
}

/// An issue number in 1..n with Zipf-like popularity (a continuous power
/// law of exponent 1.1, inverted: O(1) for any n).
int zipf_pick(int n, std::mt19937_64& rng) {
  constexpr double s = 1.1;
  double u = std::uniform_real_distribution<double>{0.0, 1.0}(rng);
  double top = std::pow(static_cast<double>(n) + 1.0, 1.0 - s);
  double x = std::pow((top - 1.0) * u + 1.0, 1.0 / (1.0 - s));
  return std::clamp(static_cast<int>(x), 1, n);
}

struct shared_state {
  const config& cfg;
  target where;
  std::vector<std::pair<std::string, std::string>> workspaces;
  /// The issue numbers acknowledged per workspace, in acknowledgement
  /// order: the ones a request may name (a number still being created is
  /// not listed yet).
  struct known_issues {
    std::mutex mtx;
    std::vector<int> ids;
    void add(int id) {
      std::lock_guard guard{mtx};
      ids.push_back(id);
    }
    /// One of them, the first ones the most popular; 0 when there is none.
    int pick(std::mt19937_64& rng) {
      std::lock_guard guard{mtx};
      return ids.empty() ? 0 : ids[static_cast<std::size_t>(zipf_pick(static_cast<int>(ids.size()), rng) - 1)];
    }
    int count() {
      std::lock_guard guard{mtx};
      return static_cast<int>(ids.size());
    }
  };
  std::vector<known_issues> known;
  ledger book;
  std::atomic<bool> gone{false};
  clock_type::time_point deadline;

  shared_state(const config& c, target t)
      : cfg(c), where(std::move(t)), workspaces(workspaces_of(c)),
        known(workspaces.size()), book(c.ledger_file) {}

  httplib::Headers headers(std::size_t w) const {
    if (workspaces[w].second.empty())
      return {};
    return {{"Authorization", "Bearer " + workspaces[w].second}};
  }
  std::string base(std::size_t w) const { return "/v1/workspaces/" + workspaces[w].first; }
};

/// One request with its check: the answer's status must be `expect` and its
/// body a JSON object; returns the body, or nullopt after counting the error.
std::optional<json> ask(httplib::Client& c, shared_state& s, tally& t, route r, const std::string& method,
                        const std::string& path, const httplib::Headers& h, const json& body,
                        int expect) {
  auto start = clock_type::now();
  httplib::Result res = method == "GET"    ? c.Get(path, h)
                        : method == "POST" ? c.Post(path, h, body.dump(), "application/json")
                        : method == "PUT"  ? c.Put(path, h, body.dump(), "application/json")
                                           : c.Patch(path, h, body.dump(), "application/json");
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count();
  if (!res) {
    if (s.cfg.until_gone)
      s.gone = true;
    t.error(r, method + " " + path + ": " + httplib::to_string(res.error()));
    return std::nullopt;
  }
  auto parsed = json::parse(res->body, nullptr, false);
  if (res->status != expect || !parsed.is_object()) {
    t.error(r, method + " " + path + " -> " + std::to_string(res->status) + " " + res->body.substr(0, 200));
    return std::nullopt;
  }
  t.latency[r].push_back(static_cast<std::uint32_t>(us));
  return parsed;
}

bool running(const shared_state& s) { return clock_type::now() < s.deadline && !s.gone; }

/// Connections open one per 2 ms: cpp-httplib's listen backlog is 5, and a
/// SYN beyond it waits a second for its retry.
void stagger(int index) { std::this_thread::sleep_for(std::chrono::milliseconds{2 * index}); }

void connection(shared_state& s, int index, tally& t) {
  stagger(index);
  httplib::Client c{s.where.host, s.where.port};
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(std::chrono::seconds{30});
  std::mt19937_64 rng{s.cfg.seed * 7919 + static_cast<std::uint64_t>(index)};
  auto pick_ws = zipf(static_cast<int>(s.workspaces.size()));
  std::uniform_int_distribution<int> percent{0, 99};
  std::uint64_t writes = 0;
  const char* statuses[] = {"todo", "doing", "done"};
  while (running(s)) {
    auto w = static_cast<std::size_t>(pick_ws(rng));
    auto h = s.headers(w);
    int n = s.known[w].pick(rng);
    auto issue_path = s.base(w) + "/issues/" + std::to_string(n);
    int p = percent(rng);
    if (p < 60 && n > 0) {
      if (auto got = ask(c, s, t, get_issue, "GET", issue_path, h, {}, 200))
        if ((*got)["id"] != n || !(*got)["comments"].is_array())
          t.error(get_issue, "GET " + issue_path + ": not issue " + std::to_string(n));
    } else if (p < 80) {
      int acknowledged = s.known[w].count();
      if (auto got = ask(c, s, t, list_issues, "GET", s.base(w) + "/issues?limit=20", h, {}, 200))
        if ((*got)["total"].get<int>() < acknowledged)
          t.error(list_issues, "GET issues: total below the creates already acknowledged");
    } else if (p < 88 || n == 0) {
      auto title = "load " + std::to_string(index) + "-" + std::to_string(++writes);
      if (auto got = ask(c, s, t, create_issue, "POST", s.base(w) + "/issues", h, {{"title", title}}, 201)) {
        int id = (*got)["id"].get<int>();
        s.book.write({{"op", "create"}, {"ws", s.workspaces[w].first}, {"id", id}, {"title", title}});
        s.known[w].add(id);
      }
    } else if (p < 94) {
      const char* status = statuses[percent(rng) % 3];
      if (auto got = ask(c, s, t, set_status, "PATCH", issue_path, h, {{"status", status}}, 200)) {
        if ((*got)["status"] != status)
          t.error(set_status, "PATCH " + issue_path + ": status not " + status);
      }
    } else {
      auto text = "comment " + std::to_string(index) + "-" + std::to_string(++writes);
      if (ask(c, s, t, add_comment, "POST", issue_path + "/comments", h, {{"text", text}}, 201))
        s.book.write({{"op", "comment"}, {"ws", s.workspaces[w].first}, {"id", n}, {"text", text}});
    }
  }
}

/// Holds one live stream open on a popular issue until the deadline,
/// counting its messages.
void live_stream(shared_state& s, int index, tally& t) {
  stagger(s.cfg.connections + index);
  httplib::Client c{s.where.host, s.where.port};
  c.set_read_timeout(std::chrono::seconds{2});
  auto w = static_cast<std::size_t>(index) % s.workspaces.size();
  auto path = s.base(w) + "/issues/1/live";
  while (running(s)) {
    std::string buffer;
    c.Get(path, s.headers(w), [&](const char* data, std::size_t n) {
      buffer.append(data, n);
      for (auto at = buffer.find("\n\n"); at != std::string::npos; at = buffer.find("\n\n")) {
        if (buffer.starts_with("event: issue\ndata: "))
          ++t.live_events;
        buffer.erase(0, at + 2);
      }
      return running(s);
    });
  }
}

struct percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

percentiles of(std::vector<std::uint32_t> v) {
  if (v.empty())
    return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))] / 1000.0; };
  return {at(0.5), at(0.99), v.back() / 1000.0};
}

int setup(shared_state& s) {
  httplib::Client c{s.where.host, s.where.port};
  c.set_read_timeout(std::chrono::seconds{30});
  tally t;
  for (std::size_t w = 0; w < s.workspaces.size(); ++w) {
    auto h = s.headers(w);
    auto res = c.Put(s.base(w), h, json{{"name", s.workspaces[w].first}}.dump(), "application/json");
    if (!res || (res->status != 200 && res->status != 201)) {
      std::fprintf(stderr, "issue_load: PUT %s failed: %s\n", s.base(w).c_str(),
                   res ? res->body.c_str() : httplib::to_string(res.error()).c_str());
      return 1;
    }
    auto list = c.Get(s.base(w) + "/issues?limit=1", h);
    int have = list && list->status == 200 ? json::parse(list->body)["total"].get<int>() : 0;
    // What a restarted server already lists (numbered from 1, no gap
    // unless a create failed: those are 404, counted as errors).
    for (int i = 1; i <= have; ++i)
      s.known[w].add(i);
    for (int i = have; i < s.cfg.issues; ++i)
      if (auto got = ask(c, s, t, create_issue, "POST", s.base(w) + "/issues", h,
                         {{"title", "seed " + std::to_string(i + 1)}}, 201)) {
        s.book.write({{"op", "create"}, {"ws", s.workspaces[w].first}, {"id", (*got)["id"]},
                      {"title", (*got)["title"]}});
        s.known[w].add((*got)["id"].get<int>());
      }
  }
  return t.first_errors.empty() ? 0 : (std::fprintf(stderr, "issue_load: %s\n", t.first_errors[0].c_str()), 1);
}

/// Checks every acknowledged write of a ledger against the server.
int verify(shared_state& s) {
  std::ifstream in{s.cfg.verify_file};
  if (!in) {
    std::fprintf(stderr, "issue_load: cannot read %s\n", s.cfg.verify_file.c_str());
    return 2;
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t w = 0; w < s.workspaces.size(); ++w)
    index[s.workspaces[w].first] = w;
  // The issues to read, with what each must hold.
  std::map<std::pair<std::string, int>, std::pair<std::string, std::vector<std::string>>> want;
  std::string line;
  std::size_t writes = 0;
  while (std::getline(in, line)) {
    auto e = json::parse(line, nullptr, false);
    if (e.is_discarded())
      continue;  // a line cut by the kill
    ++writes;
    auto& entry = want[{e["ws"].get<std::string>(), e["id"].get<int>()}];
    if (e["op"] == "create")
      entry.first = e["title"];
    else
      entry.second.push_back(e["text"]);
  }
  httplib::Client c{s.where.host, s.where.port};
  c.set_read_timeout(std::chrono::seconds{30});
  std::size_t missing = 0;
  for (const auto& [key, expected] : want) {
    auto w = index.count(key.first) ? index[key.first] : 0;
    auto path = "/v1/workspaces/" + key.first + "/issues/" + std::to_string(key.second);
    auto res = c.Get(path, s.headers(w));
    if (!res || res->status != 200) {
      std::fprintf(stderr, "verify: %s missing (%d)\n", path.c_str(), res ? res->status : -1);
      ++missing;
      continue;
    }
    auto issue = json::parse(res->body);
    if (!expected.first.empty() && issue["title"] != expected.first) {
      std::fprintf(stderr, "verify: %s has title %s, not %s\n", path.c_str(),
                   issue["title"].dump().c_str(), expected.first.c_str());
      ++missing;
    }
    for (const auto& text : expected.second) {
      bool found = std::any_of(issue["comments"].begin(), issue["comments"].end(),
                               [&](const json& cm) { return cm["text"] == text; });
      if (!found) {
        std::fprintf(stderr, "verify: %s lacks comment %s\n", path.c_str(), text.c_str());
        ++missing;
      }
    }
  }
  std::printf("verify: %zu acknowledged writes on %zu issues checked, %zu missing\n", writes,
              want.size(), missing);
  return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg;
  CLI::App app{"issue_load: drives issue_server with a realistic mix and checks every answer"};
  app.add_option("--url", cfg.url, "the server, http://HOST:PORT");
  app.add_option("--tokens", cfg.tokens_file, "the server's tokens file (its workspaces are used)");
  app.add_option("--connections", cfg.connections, "keep-alive connections")->check(CLI::Range(1, 1024));
  app.add_option("--duration", cfg.duration_s, "seconds to run")->check(CLI::PositiveNumber);
  app.add_option("--workspaces", cfg.workspaces, "workspaces without a tokens file")->check(CLI::Range(1, 10000));
  app.add_option("--issues", cfg.issues, "issues per workspace before the run")->check(CLI::Range(1, 100000));
  app.add_option("--live", cfg.live, "live streams held open")->check(CLI::Range(0, 1024));
  app.add_option("--seed", cfg.seed, "random seed");
  app.add_option("--json", cfg.json_file, "write a JSON report");
  app.add_option("--ledger", cfg.ledger_file, "record every acknowledged write (one JSON per line)");
  app.add_option("--verify", cfg.verify_file, "check a ledger against the server, then exit");
  app.add_flag("--until-gone", cfg.until_gone, "a server that stops answering ends the run (kill trials)");
  CLI11_PARSE(app, argc, argv);
  auto where = parse_url(cfg.url);
  if (!where) {
    std::fprintf(stderr, "issue_load: --url must be http://HOST:PORT, not '%s'\n", cfg.url.c_str());
    return 2;
  }
  shared_state s{cfg, *where};
  if (s.workspaces.empty()) {
    std::fprintf(stderr, "issue_load: no workspaces (is the tokens file empty?)\n");
    return 2;
  }
  if (!cfg.verify_file.empty())
    return verify(s);
  if (int failed = setup(s))
    return failed;

  std::vector<tally> tallies(static_cast<std::size_t>(cfg.connections + cfg.live));
  std::vector<std::thread> threads;
  auto start = clock_type::now();
  s.deadline = start + std::chrono::duration_cast<clock_type::duration>(
                           std::chrono::duration<double>{cfg.duration_s});
  for (int i = 0; i < cfg.connections; ++i)
    threads.emplace_back(connection, std::ref(s), i, std::ref(tallies[static_cast<std::size_t>(i)]));
  for (int i = 0; i < cfg.live; ++i)
    threads.emplace_back(live_stream, std::ref(s), i,
                         std::ref(tallies[static_cast<std::size_t>(cfg.connections + i)]));
  for (auto& t : threads)
    t.join();
  double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();

  tally all;
  for (auto& t : tallies) {
    for (int r = 0; r < route_count; ++r) {
      all.latency[r].insert(all.latency[r].end(), t.latency[r].begin(), t.latency[r].end());
      all.errors[r] += t.errors[r];
    }
    all.live_events += t.live_events;
    for (auto& e : t.first_errors)
      if (all.first_errors.size() < 10)
        all.first_errors.push_back(e);
  }
  json report{{"url", cfg.url}, {"connections", cfg.connections}, {"live_streams", cfg.live},
              {"duration_s", elapsed}, {"workspaces", s.workspaces.size()}, {"routes", json::array()}};
  std::uint64_t total = 0, errors = 0;
  std::printf("%-14s %9s %9s %9s %9s %9s %7s\n", "route", "requests", "per s", "p50 ms", "p99 ms",
              "max ms", "errors");
  for (int r = 0; r < route_count; ++r) {
    auto p = of(all.latency[r]);
    auto n = all.latency[r].size();
    total += n;
    errors += all.errors[r];
    std::printf("%-14s %9zu %9.0f %9.2f %9.2f %9.1f %7llu\n", route_names[r], n,
                static_cast<double>(n) / elapsed, p.p50, p.p99, p.max,
                static_cast<unsigned long long>(all.errors[r]));
    report["routes"].push_back({{"route", route_names[r]}, {"requests", n},
                                {"per_s", static_cast<double>(n) / elapsed}, {"p50_ms", p.p50},
                                {"p99_ms", p.p99}, {"max_ms", p.max}, {"errors", all.errors[r]}});
  }
  std::printf("%-14s %9llu %9.0f %39llu\n", "all", static_cast<unsigned long long>(total),
              static_cast<double>(total) / elapsed, static_cast<unsigned long long>(errors));
  std::printf("live: %d streams, %llu messages\n", cfg.live,
              static_cast<unsigned long long>(all.live_events));
  for (const auto& e : all.first_errors)
    std::printf("error: %s\n", e.c_str());
  report["requests"] = total;
  report["per_s"] = static_cast<double>(total) / elapsed;
  report["errors"] = errors;
  report["live_messages"] = all.live_events;
  report["server_gone"] = s.gone.load();
  if (!cfg.json_file.empty())
    std::ofstream{cfg.json_file} << report.dump(2) << '\n';
  if (cfg.until_gone && s.gone)
    return 0;  // the kill trial: errors after the kill are expected
  std::printf("issue_load: %s\n", errors == 0 ? "no errors" : "ERRORS");
  return errors == 0 ? 0 : 1;
}
