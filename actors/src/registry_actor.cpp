#include "multistore/registry_actor.hpp"

#include <deque>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "detail/caf_support.hpp"
#include "multistore/client_identity.hpp"
#include "multistore/lifecycle.hpp"
#include "multistore/store_actor.hpp"

namespace multistore {

namespace lc = lifecycle;

namespace {

enum class call_kind : std::uint8_t { acquire, preload, clear, shutdown };

/// A call the machine has not answered yet.
struct pending_call {
  call_kind kind;
  caf::response_promise promise;
  resolved_options options;  // acquire and preload only
  const schema_def* schema = nullptr;
  detail::boot_fn boot;
  std::uint64_t cancel_token = 0;
  caf::actor store;  // a cached acquire's store, found once on the fast path
};

/// The live store actor of an id (at most one: a reload waits for the old
/// instance to be down).
struct live_store {
  lc::instance_id instance = 0;
  caf::actor actor;
  bool ready = false;  // loaded and not being stopped: acquires are answered at once
};

struct registry_actor_state {
  registry_options options;
  std::shared_ptr<spdlog::logger> log;
  std::string session_id;
  std::string client_id;

  lc::machine machine;
  lc::effects effects;
  std::deque<lc::event> queue;
  bool feeding = false;

  std::unordered_map<lc::request_id, pending_call> calls;
  // The call of a cached acquire, answered before its handler returns: kept
  // out of `calls` so the hot path does not touch the map.
  lc::request_id inline_id = 0;
  pending_call inline_call{call_kind::acquire, {}, {}, nullptr, {}, 0};
  std::unordered_map<std::uint64_t, lc::request_id> cancel_tokens;
  lc::request_id next_request = 1;

  std::unordered_map<std::string, live_store> stores;
  std::unordered_map<caf::actor_addr, std::pair<std::string, lc::instance_id>> store_addrs;

  std::unordered_map<caf::actor_addr, lc::observer_id> observer_ids;
  std::unordered_map<lc::observer_id, caf::actor_addr> observer_addrs;
  lc::observer_id next_observer = 1;

  static inline const char* name = "multistore.registry";
};

using registry_actor = caf::stateful_actor<registry_actor_state>;

lc::instant now(registry_actor* self) {
  return std::chrono::duration_cast<lc::instant>(self->clock().now().time_since_epoch());
}

void apply(registry_actor* self, const lc::effect& effect);

/// Feeds one event to the machine and carries out its effects. Effects may
/// queue further events (a stop for a store that has no actor yet); they are
/// handled in order after the current ones.
void feed(registry_actor* self, lc::event event) {
  auto& st = self->state;
  st.queue.push_back(std::move(event));
  if (st.feeding)
    return;
  st.feeding = true;
  while (!st.queue.empty()) {
    auto next = std::move(st.queue.front());
    st.queue.pop_front();
    st.effects.clear();
    st.machine.handle(next, now(self), st.effects);
    auto effects = std::move(st.effects);
    for (const auto& e : effects)
      apply(self, e);
    effects.clear();
    st.effects = std::move(effects);
  }
  st.feeding = false;
}

pending_call take_call(registry_actor* self, lc::request_id id) {
  auto& st = self->state;
  if (id == st.inline_id) {
    st.inline_id = 0;
    return std::move(st.inline_call);
  }
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return pending_call{call_kind::clear, {}, {}, nullptr, {}, 0};
  auto call = std::move(i->second);
  st.calls.erase(i);
  if (call.cancel_token != 0)
    st.cancel_tokens.erase(call.cancel_token);
  return call;
}

void start_load(registry_actor* self, const lc::start_load& e) {
  auto& st = self->state;
  auto i = st.calls.find(e.options_of);
  if (i == st.calls.end()) {
    // Cannot happen with a consistent machine; fail the load rather than hang.
    st.queue.push_back(lc::load_failed{e.store_id, e.instance,
                                       error{errc::load_failed, "load without options"}});
    st.queue.push_back(lc::store_down{e.store_id, e.instance});
    return;
  }
  auto& call = i->second;
  detail::store_spawn_args args{call.schema,   e.store_id,   call.options.storage,
                                st.session_id, st.client_id, std::move(call.boot),
                                st.log};
  auto actor = detail::spawn_store(self->system(), std::move(args));
  self->monitor(actor);
  st.store_addrs.emplace(actor.address(), std::make_pair(e.store_id, e.instance));
  st.stores[e.store_id] = live_store{e.instance, actor};
  st.log->debug("store {} loading (instance {})", e.store_id, e.instance);
  self->request(actor, caf::infinite, open_atom::value)
      .then(
          [self, id = e.store_id, instance = e.instance](caf::ok_atom) {
            self->state.log->info("store {} loaded", id);
            if (auto s = self->state.stores.find(id);
                s != self->state.stores.end() && s->second.instance == instance)
              s->second.ready = true;
            feed(self, lc::load_succeeded{id, instance});
          },
          [self, id = e.store_id, instance = e.instance](caf::error& err) {
            auto reason = detail::from_caf_error(err, errc::load_failed);
            self->state.log->warn("store {} failed to load: {}", id, reason.message);
            feed(self, lc::load_failed{id, instance, std::move(reason)});
          });
}

void apply(registry_actor* self, const lc::effect& effect) {
  auto& st = self->state;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, lc::start_load>) {
          start_load(self, e);
        } else if constexpr (std::is_same_v<T, lc::answer_ready>) {
          auto call = take_call(self, e.request);
          if (call.kind == call_kind::acquire) {
            if (!call.store) {
              auto i = st.stores.find(e.store_id);
              if (i != st.stores.end())
                call.store = i->second.actor;
            }
            call.promise.deliver(call.store, std::uint64_t{e.lease}, std::uint64_t{e.instance});
          } else if (call.promise.pending()) {
            call.promise.deliver(caf::ok_atom::value);
          }
        } else if constexpr (std::is_same_v<T, lc::answer_error>) {
          auto call = take_call(self, e.request);
          if (call.promise.pending())
            call.promise.deliver(detail::to_caf_error(e.reason));
        } else if constexpr (std::is_same_v<T, lc::answer_done>) {
          auto call = take_call(self, e.request);
          if (call.promise.pending())
            call.promise.deliver(caf::ok_atom::value);
        } else if constexpr (std::is_same_v<T, lc::arm_timer>) {
          self->delayed_send(self, e.delay, gc_atom::value, e.store_id, e.generation);
        } else if constexpr (std::is_same_v<T, lc::stop_store>) {
          auto i = st.stores.find(e.store_id);
          if (i == st.stores.end() || i->second.instance != e.instance) {
            st.queue.push_back(lc::store_down{e.store_id, e.instance});
            return;
          }
          i->second.ready = false;
          st.log->info("store {} shutting down", e.store_id);
          self->send(i->second.actor, shutdown_atom::value);
        } else if constexpr (std::is_same_v<T, lc::monitor_observer>) {
          auto i = st.observer_addrs.find(e.observer);
          if (i != st.observer_addrs.end())
            self->monitor(i->second);
        }
      },
      effect);
}

/// Registers a use/preload call; answers errors of the request itself at once.
std::optional<lc::request_id> admit(registry_actor* self, const store_request& req,
                                    call_kind kind, caf::response_promise& rp) {
  auto& st = self->state;
  auto boot = detail::take_boot(req.boot);
  auto resolved = resolve_options(to_call_options(req), st.options);
  if (!resolved) {
    rp.deliver(detail::to_caf_error(resolved.error()));
    return std::nullopt;
  }
  const auto* schema = detail::find_schema(req.schema);
  if (schema == nullptr) {
    rp.deliver(detail::to_caf_error(
        errc::invalid_options,
        "schema '" + req.schema + "' of store '" + req.store_id
            + "' is not registered in this process (schemas are compiled in, not sent)"));
    return std::nullopt;
  }
  auto id = st.next_request++;
  st.calls.emplace(id, pending_call{kind, rp, std::move(*resolved), schema, std::move(boot),
                                    req.cancel_token});
  if (req.cancel_token != 0)
    st.cancel_tokens[req.cancel_token] = id;
  return id;
}

/// A loaded store that an acquire gets at once.
struct cached_store {
  gc_duration gc_time;
  caf::actor store;
};

/// The store and the call's gc_time when `req` acquires a loaded store and
/// needs nothing else resolved; nullopt sends it down the full path (which
/// also reports bad options).
std::optional<cached_store> find_cached(registry_actor* self, const store_request& req) {
  auto& st = self->state;
  if (req.boot != 0 || req.cancel_token != 0)
    return std::nullopt;
  auto s = st.stores.find(req.store_id);
  if (s == st.stores.end() || !s->second.ready)
    return std::nullopt;
  if (!req.has_gc_time)
    return cached_store{fallback_gc_time(st.options), s->second.actor};
  if (req.gc_time_ms < 0)
    return std::nullopt;
  return cached_store{gc_duration{req.gc_time_ms}, s->second.actor};
}

/// The observer id of `addr` (0 for none), assigned on first sight.
lc::observer_id observer_of(registry_actor* self, const caf::actor_addr& addr) {
  auto& st = self->state;
  if (!addr)
    return 0;
  auto [i, added] = st.observer_ids.try_emplace(addr, st.next_observer);
  if (added) {
    st.observer_addrs.emplace(st.next_observer, addr);
    ++st.next_observer;
  }
  return i->second;
}

caf::behavior registry_impl(registry_actor* self, registry_options options,
                            std::shared_ptr<spdlog::logger> log) {
  self->state.machine = lc::machine{lc::limits{.max_open = options.max_open_stores}};
  self->state.options = std::move(options);
  self->state.log = log ? std::move(log) : spdlog::default_logger();
  self->state.session_id = make_session_id();
  self->state.client_id = make_session_id();
  self->set_exception_handler([self](std::exception_ptr& ep) -> caf::error {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      self->state.log->error("registry failed: {}", e.what());
    } catch (...) {
      self->state.log->error("registry failed: unknown exception");
    }
    return detail::to_caf_error(errc::registry_closed, "the registry actor failed");
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (auto i = st.store_addrs.find(msg.source); i != st.store_addrs.end()) {
      auto [id, instance] = std::move(i->second);
      st.store_addrs.erase(i);
      if (auto s = st.stores.find(id); s != st.stores.end() && s->second.instance == instance)
        st.stores.erase(s);
      st.log->debug("store {} down (instance {})", id, instance);
      feed(self, lc::store_down{std::move(id), instance});
      return;
    }
    if (auto i = st.observer_ids.find(msg.source); i != st.observer_ids.end()) {
      auto observer = i->second;
      st.observer_ids.erase(i);
      st.observer_addrs.erase(observer);
      feed(self, lc::observer_down{observer});
    }
  });
  return {
      [self](acquire_atom, const store_request& req) {
        // Before make_response_promise: it takes the sender out of the message.
        auto sender = req.observe && self->current_sender()
                          ? caf::actor_cast<caf::actor_addr>(self->current_sender())
                          : caf::actor_addr{};
        auto rp = self->make_response_promise();
        if (auto cached = find_cached(self, req)) {
          // A loaded store answers at once: no options to resolve, no load.
          auto& st = self->state;
          auto id = st.next_request++;
          st.inline_id = id;
          st.inline_call = pending_call{call_kind::acquire, rp, {}, nullptr, {}, 0,
                                        std::move(cached->store)};
          feed(self, lc::acquire{id, req.store_id, req.schema, observer_of(self, sender),
                                 cached->gc_time});
          if (st.inline_id == id)  // not answered: cannot happen while ready; stay safe
            feed(self, lc::cancel_wait{id});
          if (st.inline_id == id) {
            st.inline_id = 0;
            rp.deliver(detail::to_caf_error(errc::cancelled, "acquire was not answered"));
          }
          return rp;
        }
        if (auto id = admit(self, req, call_kind::acquire, rp))
          feed(self, lc::acquire{*id, req.store_id, req.schema, observer_of(self, sender),
                                 self->state.calls.at(*id).options.gc_time});
        return rp;
      },
      [self](preload_atom, const store_request& req) {
        auto rp = self->make_response_promise();
        if (auto id = admit(self, req, call_kind::preload, rp))
          feed(self, lc::preload{*id, req.store_id, req.schema,
                                 self->state.calls.at(*id).options.gc_time});
        return rp;
      },
      [self](release_atom, std::uint64_t lease) { feed(self, lc::release{lease}); },
      [self](cancel_atom, std::uint64_t token) {
        auto& st = self->state;
        if (auto i = st.cancel_tokens.find(token); i != st.cancel_tokens.end())
          feed(self, lc::cancel_wait{i->second});
      },
      [self](gc_atom, const std::string& id, std::uint64_t generation) {
        feed(self, lc::gc_fired{id, generation});
      },
      [self](clear_atom) {
        auto rp = self->make_response_promise();
        auto id = self->state.next_request++;
        self->state.calls.emplace(id, pending_call{call_kind::clear, rp, {}, nullptr, {}, 0});
        self->state.log->info("registry clearing");
        feed(self, lc::clear{id});
        return rp;
      },
      [self](shutdown_atom) {
        auto rp = self->make_response_promise();
        auto id = self->state.next_request++;
        self->state.calls.emplace(id,
                                  pending_call{call_kind::shutdown, rp, {}, nullptr, {}, 0});
        self->state.log->info("registry shutting down");
        feed(self, lc::shutdown{id});
        return rp;
      },
      [self](inspect_atom, const std::string& id) {
        return to_msg(self->state.machine.info(id, now(self)));
      },
      [self](stats_atom) { return to_msg(self->state.machine.stats()); },
  };
}

std::string optional_json_text(const nlohmann::json& j) {
  return j.is_null() ? std::string{} : detail::json_text(j);
}

nlohmann::json json_value(const std::string& text) {
  if (text.empty())
    return nullptr;
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json{} : j;
}

std::int8_t tri(const std::optional<bool>& b) {
  return b ? static_cast<std::int8_t>(*b ? 1 : 0) : std::int8_t{-1};
}

std::optional<bool> untri(std::int8_t v) {
  if (v < 0)
    return std::nullopt;
  return v != 0;
}

}  // namespace

store_request to_request(const call_options& o, const std::string& schema, std::uint64_t boot,
                         bool observe) {
  store_request r;
  r.store_id = o.store_id;
  r.schema = schema;
  if (const auto* file = std::get_if<sqlite_adapter>(&o.storage)) {
    r.file = true;
    r.directory = file->directory.string();
    r.synchronous = static_cast<std::uint8_t>(file->synchronous);
  }
  r.has_gc_time = o.gc_time.has_value();
  r.gc_time_ms = o.gc_time ? o.gc_time->count() : 0;
  r.sync_payload = optional_json_text(o.sync_payload);
  r.debug = optional_json_text(o.debug);
  r.disable_devtools = tri(o.disable_devtools);
  r.confirm_unsaved_changes = tri(o.confirm_unsaved_changes);
  r.boot = boot;
  r.observe = observe;
  return r;
}

call_options to_call_options(const store_request& r) {
  call_options o;
  o.store_id = r.store_id;
  if (!r.file)
    o.storage = memory_adapter{};
  else
    o.storage = sqlite_adapter{r.directory, static_cast<sync_level>(r.synchronous)};
  if (r.has_gc_time)
    o.gc_time = gc_duration{r.gc_time_ms};
  o.sync_payload = json_value(r.sync_payload);
  o.debug = json_value(r.debug);
  o.disable_devtools = untri(r.disable_devtools);
  o.confirm_unsaved_changes = untri(r.confirm_unsaved_changes);
  return o;
}

store_info_msg to_msg(const store_info& info) {
  return store_info_msg{static_cast<std::uint8_t>(info.state),
                        info.observers,
                        info.gc_time.count(),
                        info.loads,
                        info.gc_remaining.has_value(),
                        info.gc_remaining ? info.gc_remaining->count() : 0};
}

store_info from_msg(const store_info_msg& m) {
  store_info info;
  info.state = static_cast<store_state>(m.state);
  info.observers = static_cast<std::size_t>(m.observers);
  info.gc_time = gc_duration{m.gc_time_ms};
  info.loads = m.loads;
  if (m.has_gc_remaining)
    info.gc_remaining = gc_duration{m.gc_remaining_ms};
  return info;
}

stats_msg to_msg(const registry_stats& s) {
  return stats_msg{s.loading, s.active, s.inactive,      s.closing,       s.queued,
                   s.leases,  s.waiting, s.pending_timers, s.loads, s.load_failures,
                   s.disposals, s.evictions};
}

registry_stats from_msg(const stats_msg& m) {
  auto n = [](std::uint64_t v) { return static_cast<std::size_t>(v); };
  registry_stats s;
  s.loading = n(m.loading);
  s.active = n(m.active);
  s.inactive = n(m.inactive);
  s.closing = n(m.closing);
  s.queued = n(m.queued);
  s.leases = n(m.leases);
  s.waiting = n(m.waiting);
  s.pending_timers = n(m.pending_timers);
  s.loads = m.loads;
  s.load_failures = m.load_failures;
  s.disposals = m.disposals;
  s.evictions = m.evictions;
  return s;
}

caf::actor spawn_registry(caf::actor_system& sys, registry_options options,
                          std::shared_ptr<spdlog::logger> logger) {
  return sys.spawn(registry_impl, std::move(options), std::move(logger));
}

}  // namespace multistore
