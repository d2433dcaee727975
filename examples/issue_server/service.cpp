// The issue tracker's HTTP layer: routes, tokens, checks of every argument
// and body, and JSON errors; the data comes from a backend (backend.hpp):
// the multistore stores, or the in-memory baseline.

#include "service.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <multistore/errors.hpp>

#include "backend.hpp"

namespace issue_tracker {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr std::int64_t default_limit = 100;
constexpr std::int64_t max_limit = 1000;
constexpr std::size_t max_name_chars = 200;
constexpr std::size_t max_title_chars = 500;
constexpr std::size_t max_comment_chars = 10000;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, const http_error& e) {
  send_json(res, e.status, {{"error", e.code}, {"message", e.message}});
}

/// A workspace id: 1 to 40 of [a-z0-9_-], starting with a letter or digit.
bool valid_workspace(std::string_view ws) {
  if (ws.empty() || ws.size() > 40)
    return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return ok(ws.front())
         && std::all_of(ws.begin(), ws.end(), [&](char c) { return ok(c) || c == '-' || c == '_'; });
}

/// An issue number: 1 to 999 999 999, decimal, no leading zero.
std::optional<std::int64_t> issue_number(std::string_view text) {
  if (text.empty() || text.size() > 9 || text.front() == '0'
      || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return n;
}

/// Compares a given token with a secret in time that depends on the given
/// token's length only.
bool same_secret(std::string_view given, std::string_view secret) {
  if (secret.empty())
    return false;
  unsigned diff = given.size() == secret.size() ? 0U : 1U;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned>(static_cast<unsigned char>(given[i])
                                  ^ static_cast<unsigned char>(secret[i % secret.size()]));
  return diff == 0;
}

/// The request's body as a JSON object: 400 when it is not JSON, 422 when
/// it is JSON but not an object.
answer<json> body_object(const httplib::Request& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    return tl::unexpected(fail(400, "malformed_json", "the body is not valid JSON"));
  if (!body.is_object())
    return tl::unexpected(fail(422, "invalid_body", "the body must be a JSON object"));
  return body;
}

/// A required string field of 1 to `max_chars` bytes: 422 otherwise.
answer<std::string> string_field(const json& body, const char* name, std::size_t max_chars) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string())
    return tl::unexpected(
        fail(422, "invalid_field", std::string{"field '"} + name + "' must be a string"));
  auto value = it->get<std::string>();
  if (value.empty() || value.size() > max_chars)
    return tl::unexpected(fail(422, "invalid_field",
                               std::string{"field '"} + name + "' must hold 1 to "
                                   + std::to_string(max_chars) + " bytes"));
  return value;
}

/// A non-negative integer query parameter, or `fallback`.
answer<std::int64_t> count_param(const httplib::Request& req, const char* name,
                                 std::int64_t fallback) {
  if (!req.has_param(name))
    return fallback;
  auto text = req.get_param_value(name);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 0)
    return tl::unexpected(fail(400, "bad_request",
                               std::string{"query parameter '"} + name
                                   + "' must be a non-negative integer"));
  return value;
}

/// What a store error means to an HTTP client.
http_error from_store_error(const multistore::store_error& e) {
  using multistore::errc;
  switch (e.code()) {
    case errc::overloaded:
    case errc::registry_closed:
    case errc::unavailable:
    case errc::cancelled: return fail(503, std::string{to_string(e.code())}, e.what());
    default: return fail(500, std::string{to_string(e.code())}, e.what());
  }
}

const std::set<std::string>& statuses() {
  static const std::set<std::string> s{"todo", "doing", "done"};
  return s;
}

}  // namespace

tl::expected<token_map, std::string> read_tokens(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in)
    return tl::unexpected("cannot read the tokens file " + file.string());
  token_map tokens;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    std::istringstream words{line};
    std::string ws, token, extra;
    if (!(words >> ws))
      continue;
    auto where = file.string() + ":" + std::to_string(number) + ": ";
    if (!(words >> token) || (words >> extra))
      return tl::unexpected(where + "expected 'workspace token'");
    if (!valid_workspace(ws))
      return tl::unexpected(where + "'" + ws + "' is not a workspace id (1-40 of a-z 0-9 _ -)");
    if (token.size() < 16)
      return tl::unexpected(where + "the token must have at least 16 characters");
    if (!tokens.emplace(ws, token).second)
      return tl::unexpected(where + "workspace '" + ws + "' has a token already");
  }
  return tokens;
}

struct service::impl {
  service_options options;
  std::unique_ptr<backend> data;

  std::mutex feeds_mtx;
  std::vector<std::weak_ptr<live_feed>> feeds;
  std::atomic<bool> stopped{false};

  impl(service_options o, std::unique_ptr<backend> b) : options(std::move(o)), data(std::move(b)) {}

  // -- the routes: arguments checked here, the work done by the backend ---------------

  reply put_workspace(const std::string& ws, const httplib::Request& req) {
    auto body = body_object(req);
    if (!body)
      return tl::unexpected(body.error());
    auto name = string_field(*body, "name", max_name_chars);
    if (!name)
      return tl::unexpected(name.error());
    return data->put_workspace(ws, *name);
  }

  reply post_issue(const std::string& ws, const httplib::Request& req) {
    auto body = body_object(req);
    if (!body)
      return tl::unexpected(body.error());
    auto title = string_field(*body, "title", max_title_chars);
    if (!title)
      return tl::unexpected(title.error());
    return data->post_issue(ws, *title);
  }

  reply list_issues(const std::string& ws, const httplib::Request& req) {
    auto offset = count_param(req, "offset", 0);
    if (!offset)
      return tl::unexpected(offset.error());
    auto limit = count_param(req, "limit", default_limit);
    if (!limit)
      return tl::unexpected(limit.error());
    if (*limit == 0)
      return tl::unexpected(fail(400, "bad_request", "limit must be at least 1"));
    return data->list_issues(ws, *offset, std::min(*limit, max_limit));
  }

  reply patch_issue(const std::string& ws, std::int64_t n, const httplib::Request& req) {
    auto body = body_object(req);
    if (!body)
      return tl::unexpected(body.error());
    auto status = string_field(*body, "status", 16);
    if (!status)
      return tl::unexpected(status.error());
    if (!statuses().contains(*status))
      return tl::unexpected(
          fail(422, "invalid_field", "field 'status' must be one of todo, doing, done"));
    return data->patch_issue(ws, n, *status);
  }

  reply post_comment(const std::string& ws, std::int64_t n, const httplib::Request& req) {
    auto body = body_object(req);
    if (!body)
      return tl::unexpected(body.error());
    auto text = string_field(*body, "text", max_comment_chars);
    if (!text)
      return tl::unexpected(text.error());
    return data->post_comment(ws, n, *text);
  }

  /// Opens a live feed on issue `n`; it lives as long as the response.
  answer<std::shared_ptr<live_feed>> open_live(const std::string& ws, std::int64_t n) {
    if (stopped)
      return tl::unexpected(fail(503, "stopping", "the server is stopping"));
    auto feed = data->open_live(ws, n);
    if (!feed)
      return feed;
    std::lock_guard guard{feeds_mtx};
    std::erase_if(feeds, [](const auto& f) { return f.expired(); });
    feeds.push_back(*feed);
    if (stopped)  // stop() ran meanwhile and did not see this one
      (*feed)->end();
    return feed;
  }

  /// One step of a live stream: the issue when it changed, else a
  /// heartbeat comment. False ends the stream (the client went away).
  bool live_step(live_feed& feed, httplib::DataSink& sink) {
    json issue;
    std::string text;
    switch (feed.next(options.live_heartbeat, issue)) {
      case live_feed::step::ended: sink.done(); return true;
      case live_feed::step::idle: text = ": still here\n\n"; break;
      case live_feed::step::changed: text = "event: issue\ndata: " + issue.dump() + "\n\n"; break;
    }
    return sink.write(text.data(), text.size());
  }

  void stop() {
    stopped = true;
    std::lock_guard guard{feeds_mtx};
    for (auto& weak : feeds)
      if (auto f = weak.lock())
        f->end();
  }

  // -- wiring ------------------------------------------------------------------------------

  /// 401 without a token of this server, 403 with one of another workspace.
  std::optional<http_error> refuse(const httplib::Request& req, const std::string& ws) const {
    if (options.tokens.empty())
      return std::nullopt;
    auto header = req.get_header_value("Authorization");
    constexpr std::string_view bearer = "Bearer ";
    std::string_view given;
    if (std::string_view{header}.starts_with(bearer))
      given = std::string_view{header}.substr(bearer.size());
    bool own = false, other = false;
    for (const auto& [id, token] : options.tokens) {  // every one: no early exit
      bool match = same_secret(given, token);
      own = own || (match && id == ws);
      other = other || (match && id != ws);
    }
    if (own)
      return std::nullopt;
    if (other)
      return fail(403, "forbidden", "this token is not for workspace '" + ws + "'");
    return fail(401, "unauthorized", "send Authorization: Bearer <the workspace's token>");
  }

  /// The route's workspace id once it and the token are checked; nullopt
  /// once the error was sent.
  std::optional<std::string> admit(const httplib::Request& req, httplib::Response& res) const {
    auto ws = req.matches[1].str();
    if (!valid_workspace(ws)) {
      send_error(res, fail(400, "invalid_workspace",
                           "'" + ws + "' is not a workspace id (1-40 of a-z 0-9 _ -)"));
      return std::nullopt;
    }
    if (auto refused = refuse(req, ws)) {
      send_error(res, *refused);
      return std::nullopt;
    }
    return ws;
  }

  /// The route's issue number, or 400.
  static answer<std::int64_t> issue_of(const httplib::Request& req) {
    auto n = issue_number(req.matches[2].str());
    if (!n)
      return tl::unexpected(
          fail(400, "invalid_issue", "'" + req.matches[2].str() + "' is not an issue number"));
    return *n;
  }

  /// Sends what `fn` answers; store errors become JSON errors.
  template <class Fn>
  static void serve(httplib::Response& res, Fn fn) {
    try {
      reply out = fn();
      if (out)
        send_json(res, out->first, out->second);
      else
        send_error(res, out.error());
    } catch (const multistore::store_error& e) {
      send_error(res, from_store_error(e));
    } catch (const std::exception& e) {
      send_error(res, fail(500, "internal", e.what()));
    }
  }

  /// A workspace route: admitted, then served.
  template <class Fn>
  void guarded(const httplib::Request& req, httplib::Response& res, Fn fn) {
    if (auto ws = admit(req, res))
      serve(res, [&] { return fn(*ws); });
  }

  /// An issue route: admitted, its number checked, then served.
  template <class Fn>
  void guarded_issue(const httplib::Request& req, httplib::Response& res, Fn fn) {
    if (auto ws = admit(req, res))
      serve(res, [&]() -> reply {
        auto n = issue_of(req);
        if (!n)
          return tl::unexpected(n.error());
        return fn(*ws, *n);
      });
  }

  void live(const httplib::Request& req, httplib::Response& res) {
    auto ws = admit(req, res);
    if (!ws)
      return;
    auto n = issue_of(req);
    if (!n)
      return send_error(res, n.error());
    std::shared_ptr<live_feed> feed;
    try {
      auto f = open_live(*ws, *n);
      if (!f)
        return send_error(res, f.error());
      feed = std::move(*f);
    } catch (const multistore::store_error& e) {
      return send_error(res, from_store_error(e));
    } catch (const std::exception& e) {
      return send_error(res, fail(500, "internal", e.what()));
    }
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, feed](std::size_t, httplib::DataSink& sink) { return live_step(*feed, sink); },
        [feed](bool) { feed->close(); });  // the client went away or the stream ended
  }

  void mount(httplib::Server& server) {
    server.set_payload_max_length(max_body_bytes);
    server.set_tcp_nodelay(true);  // else small answers wait for the peer's delayed ACK
    // cpp-httplib closes a keep-alive connection after 5 requests by default;
    // clients then reconnect all the time and overflow its listen backlog of 5.
    server.set_keep_alive_max_count(100000);
    const std::string ws = R"(/v1/workspaces/([^/]+))";
    const std::string issue = ws + R"(/issues/([^/]+))";
    server.Put(ws, [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, [&](const std::string& id) { return put_workspace(id, req); });
    });
    server.Post(ws + "/issues", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, [&](const std::string& id) { return post_issue(id, req); });
    });
    server.Get(ws + "/issues", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, [&](const std::string& id) { return list_issues(id, req); });
    });
    server.Get(issue, [this](const httplib::Request& req, httplib::Response& res) {
      guarded_issue(req, res,
                    [&](const std::string& id, std::int64_t n) { return data->get_issue(id, n); });
    });
    server.Patch(issue, [this](const httplib::Request& req, httplib::Response& res) {
      guarded_issue(req, res,
                    [&](const std::string& id, std::int64_t n) { return patch_issue(id, n, req); });
    });
    server.Post(issue + "/comments", [this](const httplib::Request& req, httplib::Response& res) {
      guarded_issue(req, res,
                    [&](const std::string& id, std::int64_t n) { return post_comment(id, n, req); });
    });
    server.Get(issue + "/live",
               [this](const httplib::Request& req, httplib::Response& res) { live(req, res); });
    server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      if (stopped)
        send_json(res, 503, {{"status", "stopping"}, {"error", "stopping"},
                             {"message", "the server is stopping"}});
      else
        send_json(res, 200, {{"status", "ok"}});
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(data->metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty())
        return;
      if (res.status == 404) {
        // A path whose workspace segment is no id (it may hold a decoded '/') is 400.
        constexpr std::string_view prefix = "/v1/workspaces/";
        if (std::string_view{req.path}.starts_with(prefix)) {
          auto id = req.path.substr(prefix.size(), req.path.find('/', prefix.size()) - prefix.size());
          if (!valid_workspace(id))
            return send_error(res, fail(400, "invalid_workspace",
                                        "'" + id + "' is not a workspace id (1-40 of a-z 0-9 _ -)"));
        }
        if (auto allowed = allowed_methods(req.path); !allowed.empty()) {
          res.set_header("Allow", allowed);
          return send_error(res, fail(405, "method_not_allowed",
                                      req.method + " is not allowed on " + req.path
                                          + " (allowed: " + allowed + ")"));
        }
        return send_error(res, fail(404, "not_found", "no route " + req.method + " " + req.path));
      }
      if (res.status == 413)
        return send_error(res, fail(413, "body_too_large",
                                    "a body may hold at most " + std::to_string(max_body_bytes)
                                        + " bytes"));
      send_error(res, fail(res.status, "http_error", "HTTP status " + std::to_string(res.status)));
    });
  }

  /// The methods a route path answers, or "" when no route has that path.
  static std::string allowed_methods(const std::string& path) {
    static const std::vector<std::pair<std::regex, std::string>> routes{
        {std::regex{R"(/v1/workspaces/[^/]+)"}, "PUT"},
        {std::regex{R"(/v1/workspaces/[^/]+/issues)"}, "GET, POST"},
        {std::regex{R"(/v1/workspaces/[^/]+/issues/[^/]+)"}, "GET, PATCH"},
        {std::regex{R"(/v1/workspaces/[^/]+/issues/[^/]+/comments)"}, "POST"},
        {std::regex{R"(/v1/workspaces/[^/]+/issues/[^/]+/live)"}, "GET"},
        {std::regex{R"(/healthz|/metrics)"}, "GET"}};
    for (const auto& [pattern, methods] : routes)
      if (std::regex_match(path, pattern))
        return methods;
    return "";
  }
};

service::service(multistore::store_registry& registry, service_options options)
    : impl_(std::make_unique<impl>(options, make_store_backend(registry, options))) {}

service::service(service_options options)
    : impl_(std::make_unique<impl>(options, make_memory_backend())) {}

service::~service() { impl_->stop(); }

void service::mount(httplib::Server& server) { impl_->mount(server); }

void service::stop() { impl_->stop(); }

void mount_devtools(httplib::Server& server, std::uint16_t devtools_port) {
  server.Get("/devtools", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/devtools/");
  });
  server.Get(R"(/devtools/(.*))", [devtools_port](const httplib::Request& req,
                                                  httplib::Response& res) {
    httplib::Client upstream{"127.0.0.1", devtools_port};
    std::string path = "/" + req.matches[1].str();
    if (!req.params.empty())
      path += "?" + httplib::detail::params_to_query_str(req.params);
    auto answer = upstream.Get(path);
    if (!answer)
      return send_error(res, fail(502, "devtools_unreachable", "the devtools server did not answer"));
    res.status = answer->status;
    res.set_content(answer->body, answer->get_header_value("Content-Type"));
  });
}

}  // namespace issue_tracker
