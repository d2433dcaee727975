// The devtools HTTP server: cpp-httplib on its own threads, asking the
// registry and its stores through CAF messages (a blocking scoped actor per
// HTTP request). Reads only; never acquires a store.

#include "multistore/devtools.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "devtools_page.hpp"
#include "multistore/messages.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/store_id.hpp"
#include "multistore/store_registry.hpp"

namespace multistore {

namespace {

/// How long one HTTP request waits for the registry or a store.
constexpr auto ask_timeout = std::chrono::seconds{10};
/// Rows or events per page: the default and the cap.
constexpr std::uint64_t default_limit = 100;
constexpr std::uint64_t max_limit = 1000;

/// An HTTP error: its status, a short code and a message for people.
struct http_error {
  int status = 500;
  std::string code;
  std::string message;
};

template <class T>
using answer = tl::expected<T, http_error>;

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, const http_error& e) {
  send_json(res, e.status, {{"error", e.code}, {"message", e.message}});
}

/// What an error from the registry or a store means to an HTTP client.
http_error from_caf(const caf::error& err) {
  auto e = to_error(err);
  int status = 500;
  std::string code{to_string(e.code)};
  switch (e.code) {
    case errc::store_disposed:
      status = 404;
      code = "not_loaded";
      break;
    case errc::registry_closed:
    case errc::unavailable: status = 503; break;
    default: break;
  }
  if (err == caf::sec::request_timeout) {
    status = 504;
    code = "timeout";
  }
  return http_error{status, std::move(code), std::move(e.message)};
}

/// Compares a given token with the secret (not empty) in time that depends
/// on the given token's length only, never on where they differ.
bool same_secret(std::string_view given, std::string_view secret) {
  std::size_t diff = given.size() ^ secret.size();
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<std::size_t>(static_cast<unsigned char>(given[i])
                                     ^ static_cast<unsigned char>(secret[i % secret.size()]));
  return diff == 0;
}

/// A query parameter as a count, or `fallback` when absent.
answer<std::uint64_t> count_param(const httplib::Request& req, const char* name,
                                  std::uint64_t fallback) {
  if (!req.has_param(name))
    return fallback;
  auto text = req.get_param_value(name);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return tl::unexpected(http_error{400, "bad_request",
                                     std::string{"query parameter '"} + name
                                         + "' must be a non-negative integer, not '" + text
                                         + "'"});
  return value;
}

answer<std::uint64_t> limit_param(const httplib::Request& req) {
  auto limit = count_param(req, "limit", default_limit);
  if (limit && *limit == 0)
    return tl::unexpected(http_error{400, "bad_request", "limit must be at least 1"});
  if (limit)
    return std::min(*limit, max_limit);
  return limit;
}

/// One HTTP request's questions to the registry and its stores, through
/// one blocking scoped actor.
class asker {
 public:
  asker(caf::actor_system& sys, registry_actor_type registry)
      : self_{sys}, registry_{std::move(registry)} {}

  /// Asks `dest` and waits for one text answer.
  template <class Dest, class... Ts>
  answer<std::string> text(const Dest& dest, Ts... xs) {
    answer<std::string> out = tl::unexpected(http_error{504, "timeout", "no answer"});
    self_->request(dest, ask_timeout, xs...)
        .receive([&](std::string& t) { out = std::move(t); },
                 [&](caf::error& err) { out = tl::unexpected(from_caf(err)); });
    return out;
  }

  template <class Dest, class... Ts>
  answer<nlohmann::json> json(const Dest& dest, Ts... xs) {
    auto t = text(dest, xs...);
    if (!t)
      return tl::unexpected(std::move(t.error()));
    auto parsed = nlohmann::json::parse(*t, nullptr, false);
    if (parsed.is_discarded())
      return tl::unexpected(http_error{500, "internal", "an answer was not valid JSON"});
    return parsed;
  }

  /// The registry's row of store `id`: 404 when this node does not hold it.
  answer<nlohmann::json> row(const std::string& id) {
    auto r = json(registry_, list_atom::value, id);
    if (!r && r.error().status == 404)
      r.error().message = "store '" + id + "' is not loaded here";
    return r;
  }

  /// The store `id` if it is loaded here, with devtools allowed: 400, 403, 404 otherwise.
  answer<store_actor_type> peek(const std::string& raw_id) {
    auto id = parse_store_id(raw_id);
    if (!id)
      return tl::unexpected(http_error{400, "invalid_store_id", id.error().message});
    answer<store_actor_type> out = tl::unexpected(http_error{504, "timeout", "no answer"});
    self_->request(registry_, ask_timeout, peek_atom::value, *id)
        .receive(
            [&](caf::actor& store, bool disable_devtools) {
              if (disable_devtools)
                out = tl::unexpected(http_error{403, "devtools_disabled",
                                                "store '" + *id + "' has disable_devtools set"});
              else
                out = caf::actor_cast<store_actor_type>(store);
            },
            [&](caf::error& err) { out = tl::unexpected(from_caf(err)); });
    return out;
  }

  /// What the store says of itself: schema, head, tables, subscription queries.
  answer<nlohmann::json> detail(const store_actor_type& store) {
    return json(store, inspect_atom::value);
  }

  /// The names of the store's state tables (from its detail).
  answer<nlohmann::json> table_names(const store_actor_type& store) {
    auto d = detail(store);
    if (!d)
      return d;
    return std::move((*d)["tables"]);
  }

  /// Rows of a read-only query on a store.
  answer<nlohmann::json> query(const store_actor_type& store, const std::string& sql,
                               const nlohmann::json& params) {
    return json(store, query_atom::value, sql, params.dump());
  }

 private:
  caf::scoped_actor self_;
  registry_actor_type registry_;
};

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"')
      out += '"';
  }
  return out + '"';
}

/// The row counts of `tables` in one read: {name: count}.
answer<nlohmann::json> row_counts(asker& ask, const store_actor_type& store,
                                  const nlohmann::json& tables) {
  std::string sql = "SELECT ";
  for (std::size_t i = 0; i < tables.size(); ++i) {
    auto name = quoted(tables[i].get<std::string>());
    sql += (i == 0 ? "" : ", ") + std::string{"(SELECT count(*) FROM "} + name + ") AS " + name;
  }
  if (tables.empty())
    return nlohmann::json::object();
  auto rows = ask.query(store, sql, nlohmann::json::array());
  if (!rows)
    return rows;
  return std::move(rows->at(0));
}

}  // namespace

struct devtools_server::impl {
  store_registry& registry;
  devtools_options options;
  registry_actor_type registry_actor;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> stopped{false};
  int port = 0;

  impl(store_registry& r, devtools_options o)
      : registry(r),
        options(std::move(o)),
        registry_actor(caf::actor_cast<registry_actor_type>(r.actor())) {}

  asker ask() { return asker{registry.system(), registry_actor}; }

  answer<nlohmann::json> stores() {
    auto list = ask().json(registry_actor, list_atom::value);
    if (!list)
      return list;
    return nlohmann::json{{"stores", std::move(*list)}};
  }

  answer<nlohmann::json> store(const std::string& id) {
    auto a = ask();
    auto row = a.row(id);
    if (!row)
      return row;
    // A store that loads, or has devtools disabled, shows its row only.
    if ((*row)["devtools"] == false
        || ((*row)["phase"] != "active" && (*row)["phase"] != "inactive"))
      return row;
    auto p = a.peek(id);
    if (!p)
      return tl::unexpected(std::move(p.error()));
    auto detail = a.detail(*p);
    if (!detail)
      return detail;
    for (auto& [key, value] : detail->items())
      (*row)[key] = value;
    return row;
  }

  answer<nlohmann::json> events(const std::string& id, const httplib::Request& req) {
    auto limit = limit_param(req);
    if (!limit)
      return tl::unexpected(std::move(limit.error()));
    if (req.has_param("after") && req.has_param("before"))
      return tl::unexpected(http_error{400, "bad_request", "give after or before, not both"});
    static constexpr const char* columns =
        "SELECT seq, name, args, client_id, session_id, time_ms FROM __events";
    std::string sql;
    nlohmann::json params;
    std::string order = "newest_first";
    if (req.has_param("after")) {
      auto after = count_param(req, "after", 0);
      if (!after)
        return tl::unexpected(std::move(after.error()));
      sql = std::string{columns} + " WHERE seq > ?1 ORDER BY seq LIMIT ?2";
      params = {std::min<std::uint64_t>(*after, INT64_MAX), *limit};
      order = "oldest_first";
    } else {
      auto before = count_param(req, "before", INT64_MAX);
      if (!before)
        return tl::unexpected(std::move(before.error()));
      sql = std::string{columns} + " WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
      params = {std::min<std::uint64_t>(*before, INT64_MAX), *limit};
    }
    auto a = ask();
    auto p = a.peek(id);
    if (!p)
      return tl::unexpected(std::move(p.error()));
    auto rows = a.query(*p, sql, params);
    if (!rows)
      return rows;
    auto row = a.row(id);  // after the read: the head is at least its newest event
    if (!row)
      return row;
    for (auto& event : *rows)  // the log keeps arguments as JSON text
      if (event["args"].is_string()) {
        auto args = nlohmann::json::parse(event["args"].get<std::string>(), nullptr, false);
        if (!args.is_discarded())
          event["args"] = std::move(args);
      }
    return nlohmann::json{{"store", id},
                          {"head", (*row)["head"]},
                          {"order", order},
                          {"limit", *limit},
                          {"events", std::move(*rows)}};
  }

  answer<nlohmann::json> tables(const std::string& id) {
    auto a = ask();
    auto p = a.peek(id);
    if (!p)
      return tl::unexpected(std::move(p.error()));
    auto names = a.table_names(*p);
    if (!names)
      return names;
    auto counts = row_counts(a, *p, *names);
    if (!counts)
      return counts;
    auto out = nlohmann::json::array();
    for (const auto& t : *names)
      out.push_back({{"name", t}, {"rows", (*counts)[t.get<std::string>()]}});
    return nlohmann::json{{"store", id}, {"tables", std::move(out)}};
  }

  answer<nlohmann::json> table(const std::string& id, const std::string& name,
                               const httplib::Request& req) {
    auto limit = limit_param(req);
    if (!limit)
      return tl::unexpected(std::move(limit.error()));
    auto offset = count_param(req, "offset", 0);
    if (!offset)
      return tl::unexpected(std::move(offset.error()));
    auto a = ask();
    auto p = a.peek(id);
    if (!p)
      return tl::unexpected(std::move(p.error()));
    auto names = a.table_names(*p);
    if (!names)
      return names;
    bool known = false;
    for (const auto& t : *names)
      known = known || t == name;
    if (!known)
      return tl::unexpected(http_error{404, "unknown_table",
                                       "store '" + id + "' has no table '" + name + "'"});
    auto total = row_counts(a, *p, nlohmann::json::array({name}));
    if (!total)
      return total;
    auto rows = a.query(*p, "SELECT * FROM " + quoted(name) + " LIMIT ?1 OFFSET ?2",
                        {*limit, std::min<std::uint64_t>(*offset, INT64_MAX)});
    if (!rows)
      return rows;
    return nlohmann::json{{"store", id},      {"table", name},
                          {"offset", *offset}, {"limit", *limit},
                          {"total", (*total)[name]},   {"rows", std::move(*rows)}};
  }

  bool authorized(const httplib::Request& req) const {
    if (options.token.empty())
      return true;
    auto header = req.get_header_value("Authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (std::string_view{header}.starts_with(bearer)
        && same_secret(std::string_view{header}.substr(bearer.size()), options.token))
      return true;
    return req.has_param("token") && same_secret(req.get_param_value("token"), options.token);
  }

  void routes() {
    auto serve = [](httplib::Response& res, answer<nlohmann::json> a) {
      if (a)
        send_json(res, 200, *a);
      else
        send_error(res, a.error());
    };
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (authorized(req))
        return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, http_error{401, "unauthorized",
                                 "this devtools server needs a token: Authorization: Bearer"
                                 " <token>, or ?token=<token> for the page"});
      return httplib::Server::HandlerResponse::Handled;
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty())
        return;
      if (res.status == 404)
        send_error(res, http_error{404, "not_found", "no route " + req.method + " " + req.path});
      else
        send_error(res, http_error{res.status, "http_error", "HTTP status " +
                                                                  std::to_string(res.status)});
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(devtools_page, "text/html; charset=utf-8");
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      auto text = ask().text(registry_actor, metrics_atom::value);
      if (!text)
        return send_error(res, text.error());
      res.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/api/stores", [this, serve](const httplib::Request&, httplib::Response& res) {
      serve(res, stores());
    });
    server.Get(R"(/api/stores/([^/]*))",
               [this, serve](const httplib::Request& req, httplib::Response& res) {
                 auto id = parse_store_id(req.matches[1].str());
                 if (!id)
                   return send_error(res, {400, "invalid_store_id", id.error().message});
                 serve(res, store(*id));
               });
    server.Get(R"(/api/stores/([^/]*)/events)",
               [this, serve](const httplib::Request& req, httplib::Response& res) {
                 serve(res, events(req.matches[1].str(), req));
               });
    server.Get(R"(/api/stores/([^/]*)/tables)",
               [this, serve](const httplib::Request& req, httplib::Response& res) {
                 serve(res, tables(req.matches[1].str()));
               });
    server.Get(R"(/api/stores/([^/]*)/tables/([^/]*))",
               [this, serve](const httplib::Request& req, httplib::Response& res) {
                 serve(res, table(req.matches[1].str(), req.matches[2].str(), req));
               });
    // Anything else under /api/stores/: a bad id is 400 (an id never holds a
    // '/', even percent-encoded), else no such route.
    server.Get(R"(/api/stores/(.*))", [](const httplib::Request& req, httplib::Response& res) {
      auto rest = req.matches[1].str();
      auto id = parse_store_id(rest.substr(0, rest.find('/')));
      if (!id)
        return send_error(res, {400, "invalid_store_id", id.error().message});
      send_error(res, {404, "not_found", "no route GET " + req.path});
    });
  }
};

devtools_server::devtools_server(store_registry& registry, devtools_options options)
    : impl_(std::make_unique<impl>(registry, std::move(options))) {
  auto& s = *impl_;
  s.server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.server.set_tcp_nodelay(true);
  s.routes();
  s.port = s.options.port == 0 ? s.server.bind_to_any_port(s.options.bind)
                               : (s.server.bind_to_port(s.options.bind, s.options.port)
                                      ? s.options.port
                                      : -1);
  if (s.port <= 0)
    throw std::runtime_error("devtools: cannot listen on " + s.options.bind + ":"
                             + std::to_string(s.options.port));
  s.thread = std::thread{[&s] {
    s.server.listen_after_bind();
    s.stopped = true;
  }};
  // stop() before the loop started would be missed: wait for it to run.
  while (!s.server.is_running() && !s.stopped)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
}

devtools_server::~devtools_server() {
  impl_->server.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

std::uint16_t devtools_server::port() const noexcept {
  return static_cast<std::uint16_t>(impl_->port);
}

std::string devtools_server::url() const {
  return "http://" + impl_->options.bind + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace multistore
