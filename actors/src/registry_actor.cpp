#include "multistore/registry_actor.hpp"

#include <cassert>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "detail/caf_error.hpp"
#include "detail/cluster_actor.hpp"
#include "detail/logging.hpp"
#include "detail/store_spawn.hpp"
#include "multistore/client_identity.hpp"
#include "multistore/lifecycle.hpp"
#include "multistore/metrics.hpp"
#include "multistore/placement.hpp"
#include "multistore/process_usage.hpp"

namespace multistore {

namespace lc = lifecycle;

namespace {

enum class call_kind : std::uint8_t { acquire, preload, clear, shutdown };

/// An acquire's answer: the store, the caller's lease and the instance.
struct ready_answer {
  caf::actor store;
  std::uint64_t lease = 0;
  std::uint64_t instance = 0;
};

/// What the machine answered a call: ready, an error, or done (monostate:
/// a clear or shutdown, or a preload).
using call_answer = std::variant<std::monostate, ready_answer, caf::error>;

/// A use, preload, clear or shutdown call the machine has not answered yet.
struct pending_call {
  call_kind kind = call_kind::clear;
  /// Empty while the call's own message is handled: the handler answers it.
  caf::response_promise promise;
  /// Acquire and preload: what a load for it opens. Decoded only when the
  /// call waits; while its message is handled, `current_request` holds it.
  call_options options;
  const schema_def* schema = nullptr;
  detail::boot_fn boot;
  std::uint64_t cancel_token = 0;
  /// An acquire that waits: since when, for the acquire latency.
  std::chrono::steady_clock::time_point since{};
};

/// A store actor the registry started, with what its listings read.
struct live_store {
  store_actor_type actor;
  std::shared_ptr<store_gauges> gauges;
  bool disable_devtools = false;
};

struct registry_actor_state {
  registry_options options;
  std::shared_ptr<spdlog::logger> log;
  /// Where the stores do their SQLite work (shared with them: a store may
  /// outlive the registry while it closes).
  std::shared_ptr<detail::io_executor> io;
  std::string session_id;
  std::string client_id;

  lc::machine machine;
  lc::effects effects;
  std::deque<lc::event> queue;
  bool feeding = false;

  /// Calls waiting for the machine's answer.
  std::unordered_map<lc::request_id, pending_call> calls;
  std::unordered_map<std::uint64_t, lc::request_id> cancel_tokens;
  /// The use or preload whose message is being handled. It enters `calls`
  /// only if the machine does not answer it at once; otherwise its handler
  /// returns `answer` (a cached acquire touches no map of waiting calls).
  lc::request_id current_id = 0;
  pending_call current;
  const store_request* current_request = nullptr;
  call_answer answer;
  lc::request_id next_request = 1;

  /// Schemas by key, as registered in this process's catalog.
  std::unordered_map<std::string, const schema_def*> schemas;
  std::string last_schema_key;  ///< the schema found last, asked first
  const schema_def* last_schema = nullptr;

  /// The live store actors, by instance (an id has at most one: a reload
  /// waits for the old instance to be down).
  std::unordered_map<lc::instance_id, live_store> stores;
  /// Shared with the stores, which count their commits in it.
  std::shared_ptr<registry_metrics> metrics = std::make_shared<registry_metrics>();
  std::unordered_map<caf::actor_addr, std::pair<std::string, lc::instance_id>> store_addrs;

  /// Observers by control block: the address kept in `observer_addrs` holds
  /// the block until its down message, so a key is never reused meanwhile,
  /// and an acquire looks its sender up without taking a reference.
  std::unordered_map<const caf::actor_control_block*, lc::observer_id> observer_ids;
  std::unordered_map<lc::observer_id, caf::actor_addr> observer_addrs;
  lc::observer_id next_observer = 1;

  /// In a cluster: this node's cluster actor, which carries the calls for
  /// ids other members own, and our index among the members.
  caf::actor cluster;
  std::size_t self_index = 0;

  static inline const char* name = "multistore.registry";
};

using registry_self = registry_actor_type::stateful_pointer<registry_actor_state>;

/// Whether another member owns `store_id` (never outside a cluster).
bool remote(registry_self self, const std::string& store_id) {
  auto& st = self->state;
  return st.cluster && owner_index(store_id, st.options.cluster->members) != st.self_index;
}

lc::instant now(registry_self self) {
  return std::chrono::duration_cast<lc::instant>(self->clock().now().time_since_epoch());
}

void apply(registry_self self, const lc::effect& effect);

/// Feeds one event to the machine and carries out its effects. Effects may
/// queue further events (a stop for a store that has no actor yet); they are
/// handled in order after the current one. Events that hold views (acquire,
/// preload) come only from handlers, never while effects are carried out.
void feed(registry_self self, const lc::event& event) {
  auto& st = self->state;
  if (st.feeding) {
    assert(!std::holds_alternative<lc::acquire>(event)
           && !std::holds_alternative<lc::preload>(event));
    st.queue.push_back(event);
    return;
  }
  st.feeding = true;
  const auto clock = [self] { return now(self); };
  auto handle = [&](const lc::event& next) {
    st.effects.clear();
    st.machine.handle(next, lc::time_source{clock}, st.effects);
    auto effects = std::move(st.effects);
    for (const auto& e : effects)
      apply(self, e);
    effects.clear();
    st.effects = std::move(effects);
  };
  handle(event);
  while (!st.queue.empty()) {
    auto next = std::move(st.queue.front());
    st.queue.pop_front();
    handle(next);
  }
  st.feeding = false;
}

/// The call `id` (waiting, or being handled), or nullptr.
pending_call* find_call(registry_self self, lc::request_id id) {
  auto& st = self->state;
  if (id == st.current_id)
    return &st.current;
  auto i = st.calls.find(id);
  return i == st.calls.end() ? nullptr : &i->second;
}

/// Hands the machine's answer to call `id`: to its handler when the call's own
/// message is being handled, else to its promise.
void answer(registry_self self, lc::request_id id, call_answer a) {
  auto& st = self->state;
  if (id == st.current_id) {
    st.current_id = 0;
    st.answer = std::move(a);
    return;
  }
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto call = std::move(i->second);
  st.calls.erase(i);
  if (call.cancel_token != 0)
    st.cancel_tokens.erase(call.cancel_token);
  if (call.kind == call_kind::acquire)
    st.metrics->acquire_latency.record(std::chrono::steady_clock::now() - call.since);
  if (!call.promise.pending())
    return;
  if (auto* err = std::get_if<caf::error>(&a))
    call.promise.deliver(std::move(*err));
  else if (auto* ready = std::get_if<ready_answer>(&a); ready && call.kind == call_kind::acquire)
    call.promise.deliver(std::move(ready->store), ready->lease, ready->instance);
  else
    call.promise.deliver(caf::ok_atom::value);
}

void start_load(registry_self self, const lc::start_load& e) {
  auto& st = self->state;
  auto* call = find_call(self, e.options_of);
  auto resolved = call == nullptr ? fail(errc::load_failed, "load of '" + e.store_id + "' without options")
                  : call == &st.current
                      ? resolve_options(detail::to_call_options(*st.current_request), st.options)
                      : resolve_options(call->options, st.options);
  if (!resolved) {  // cannot happen with a consistent machine; fail the load rather than hang
    st.queue.push_back(lc::load_failed{e.store_id, e.instance, std::move(resolved.error())});
    st.queue.push_back(lc::store_down{e.store_id, e.instance});
    return;
  }
  auto gauges = std::make_shared<store_gauges>();
  const bool disable_devtools = resolved->disable_devtools;
  auto store = detail::spawn_store(
      self->system(),
      detail::store_spawn_args{call->schema, std::move(*resolved), st.session_id, st.client_id,
                               std::move(call->boot), st.log, st.io,
                               st.options.max_pending_commits, st.metrics, gauges});
  self->monitor(store);
  st.store_addrs.emplace(store.address(), std::make_pair(e.store_id, e.instance));
  st.stores.emplace(e.instance, live_store{store, std::move(gauges), disable_devtools});
  st.log->debug("store {} loading (instance {})", e.store_id, e.instance);
  self->request(store, caf::infinite, open_atom::value)
      .then(
          [self, id = e.store_id, instance = e.instance](caf::ok_atom) {
            self->state.log->info("store {} loaded", id);
            feed(self, lc::load_succeeded{id, instance});
          },
          [self, id = e.store_id, instance = e.instance](caf::error& err) {
            auto reason = to_error(err, errc::load_failed);
            self->state.log->warn("store {} failed to load: {}", id, reason.message);
            feed(self, lc::load_failed{id, instance, std::move(reason)});
          });
}

void apply(registry_self self, const lc::effect& effect) {
  auto& st = self->state;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, lc::start_load>) {
          start_load(self, e);
        } else if constexpr (std::is_same_v<T, lc::answer_ready>) {
          auto i = st.stores.find(e.instance);
          auto store =
              i == st.stores.end() ? caf::actor{} : caf::actor_cast<caf::actor>(i->second.actor);
          answer(self, e.request, ready_answer{std::move(store), e.lease, e.instance});
        } else if constexpr (std::is_same_v<T, lc::answer_error>) {
          answer(self, e.request, detail::to_caf_error(e.reason));
        } else if constexpr (std::is_same_v<T, lc::answer_done>) {
          answer(self, e.request, std::monostate{});
        } else if constexpr (std::is_same_v<T, lc::arm_timer>) {
          self->delayed_send(self, e.delay, gc_atom::value, e.store_id, e.generation);
        } else if constexpr (std::is_same_v<T, lc::stop_store>) {
          auto i = st.stores.find(e.instance);
          if (i == st.stores.end()) {
            st.queue.push_back(lc::store_down{e.store_id, e.instance});
            return;
          }
          st.log->info("store {} closing", e.store_id);
          self->send(i->second.actor, close_atom::value);
        } else if constexpr (std::is_same_v<T, lc::monitor_observer>) {
          auto i = st.observer_addrs.find(e.observer);
          if (i != st.observer_addrs.end())
            self->monitor(i->second);
        }
      },
      effect);
}

/// The observer id of `sender` (0 for none), assigned on first sight.
lc::observer_id observer_of(registry_self self, caf::actor_control_block* sender) {
  auto& st = self->state;
  if (sender == nullptr)
    return 0;
  auto [i, added] = st.observer_ids.try_emplace(sender, st.next_observer);
  if (added) {
    st.observer_addrs.emplace(st.next_observer, caf::actor_cast<caf::actor_addr>(sender));
    ++st.next_observer;
  }
  return i->second;
}

const schema_def* find_schema(registry_self self, const std::string& key) {
  auto& st = self->state;
  if (st.last_schema != nullptr && key == st.last_schema_key)
    return st.last_schema;  // calls come in runs of one schema: no hash for them
  const schema_def* schema = nullptr;
  if (auto i = st.schemas.find(key); i != st.schemas.end())
    schema = i->second;
  else if (schema = detail::find_schema(key); schema != nullptr)
    st.schemas.emplace(key, schema);
  if (schema != nullptr) {
    st.last_schema_key = key;
    st.last_schema = schema;
  }
  return schema;
}

/// Milliseconds, or null for gc_never.
nlohmann::json gc_millis(gc_duration d) {
  if (d == gc_never)
    return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// One store as the devtools list it, with what its store reports once
/// loaded. A store with disable_devtools shows its id and phase only.
nlohmann::json listed_json(const registry_actor_state& st, const lc::listed_store& listed) {
  nlohmann::json row{{"id", listed.store_id}, {"phase", to_string(listed.info.state)}};
  auto i = st.stores.find(listed.instance);
  if (i != st.stores.end() && i->second.disable_devtools) {
    row["devtools"] = false;
    return row;
  }
  row["devtools"] = true;
  row["schema"] = listed.schema.substr(0, listed.schema.find('#'));  // the key is name#hash
  row["observers"] = listed.info.observers;
  row["gc_time_ms"] = gc_millis(listed.info.gc_time);
  row["gc_remaining_ms"] =
      listed.info.gc_remaining ? gc_millis(*listed.info.gc_remaining) : nlohmann::json{};
  row["loads"] = listed.info.loads;
  if (i != st.stores.end()) {
    const auto& g = *i->second.gauges;
    row["head"] = g.head.load(std::memory_order_relaxed);
    row["pending_commits"] = g.pending_commits.load(std::memory_order_relaxed);
    row["subscriptions"] = g.subscriptions.load(std::memory_order_relaxed);
  }
  return row;
}

/// The devtools' listing: every id this node holds.
std::string list_json(registry_self self) {
  auto out = nlohmann::json::array();
  for (const auto& listed : self->state.machine.list(now(self)))
    out.push_back(listed_json(self->state, listed));
  return out.dump();
}

/// Checks a use or preload call and hands it to the machine. Returns the
/// answer when the machine gave it at once; otherwise the call waits in
/// `calls` with a promise, and nullopt tells the handler to delegate to it.
/// Every call takes this one path: the machine alone decides whether a store
/// can be handed out now.
std::optional<call_answer> admit(registry_self self, call_kind kind, const store_request& req,
                                 caf::actor_control_block* sender) {
  auto& st = self->state;
  auto boot = detail::take_boot(req.boot);
  if (auto ok = detail::validate(req); !ok)
    return detail::to_caf_error(ok.error());
  const auto* schema = find_schema(self, req.schema);
  if (schema == nullptr)
    return detail::to_caf_error(
        errc::invalid_options,
        "schema '" + req.schema + "' of store '" + req.store_id
            + "' is not registered in this process (schemas are compiled in, not sent)");
  const auto id = st.next_request++;
  const auto gc_time = call_gc_time(detail::gc_time_of(req), st.options);
  // The current call is filled field by field: a cached acquire builds no
  // pending_call and decodes no options.
  st.current_id = id;
  st.current_request = &req;
  st.current.kind = kind;
  st.current.schema = schema;
  st.current.boot = std::move(boot);
  st.current.cancel_token = req.cancel_token;
  if (kind == call_kind::acquire)
    feed(self, lc::acquire{id, req.store_id, req.schema, observer_of(self, sender), gc_time});
  else
    feed(self, lc::preload{id, req.store_id, req.schema, gc_time});
  st.current_request = nullptr;
  if (st.current_id != id) {
    if (kind == call_kind::acquire)  // answered in this step: no clock read for it
      st.metrics->acquire_latency.record(std::chrono::nanoseconds{0});
    st.current.boot = nullptr;  // not run (the store was loaded): let go of what it captured
    return std::exchange(st.answer, std::monostate{});
  }
  st.current_id = 0;
  st.current.options = detail::to_call_options(req);
  st.current.promise = self->make_response_promise();
  if (kind == call_kind::acquire)
    st.current.since = std::chrono::steady_clock::now();
  if (req.cancel_token != 0)
    st.cancel_tokens[req.cancel_token] = id;
  st.calls.emplace(id, std::move(st.current));
  return std::nullopt;
}

/// A clear or shutdown: the machine closes every store and answers once all
/// are down.
/// Closes every store here; `rp` gets ok_atom once all are closed.
template <class Event>
void close_all(registry_self self, call_kind kind, const char* doing, caf::response_promise rp) {
  auto& st = self->state;
  const auto id = st.next_request++;
  st.calls.emplace(id, pending_call{kind, std::move(rp), {}, nullptr, {}, 0, {}});
  st.log->info("registry {}", doing);
  feed(self, Event{id});
}

template <class Event>
caf::result<caf::ok_atom> close_all(registry_self self, call_kind kind, const char* doing) {
  auto rp = self->make_response_promise();
  close_all<Event>(self, kind, doing, rp);
  return rp;
}

registry_actor_type::behavior_type registry_impl(registry_self self, registry_options options,
                                                 std::shared_ptr<spdlog::logger> log,
                                                 caf::actor cluster) {
  if (options.cluster && cluster) {
    self->state.cluster = std::move(cluster);
    const auto& members = options.cluster->members;
    while (members[self->state.self_index].name != options.cluster->self)
      ++self->state.self_index;
  }
  self->state.machine = lc::machine{lc::limits{.max_open = options.max_open_stores}};
  // On the deterministic scheduler the stores' work runs inline, so that the
  // scheduler alone orders everything; elsewhere on a pool of I/O threads.
  const bool deterministic = caf::get_or(self->system().config(), "scheduler.policy",
                                         caf::atom("stealing"))
                             == caf::atom("testing");
  self->state.io = deterministic ? detail::make_inline_executor()
                                 : detail::make_io_pool(detail::io_pool_size(options.io_threads));
  self->state.options = std::move(options);
  self->state.log = detail::library_logger(std::move(log));
  self->state.session_id = make_random_id();
  self->state.client_id = make_random_id();
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
      st.stores.erase(instance);
      st.log->debug("store {} down (instance {})", id, instance);
      feed(self, lc::store_down{std::move(id), instance});
      return;
    }
    if (auto i = st.observer_ids.find(msg.source.get()); i != st.observer_ids.end()) {
      auto observer = i->second;
      st.observer_ids.erase(i);
      st.observer_addrs.erase(observer);
      feed(self, lc::observer_down{observer});
    }
  });
  // CAF tries handlers in order: the hot pair first.
  return {
      [self](acquire_atom,
             const store_request& req) -> caf::result<caf::actor, std::uint64_t, std::uint64_t> {
        if (remote(self, req.store_id)) {
          self->delegate(self->state.cluster, acquire_atom::value, req);
          return caf::delegated<caf::actor, std::uint64_t, std::uint64_t>{};
        }
        auto* sender = req.observe ? self->current_sender().get() : nullptr;
        auto answered = admit(self, call_kind::acquire, req, sender);
        if (!answered)
          return caf::delegated<caf::actor, std::uint64_t, std::uint64_t>{};
        if (auto* ready = std::get_if<ready_answer>(&*answered))
          return {std::move(ready->store), ready->lease, ready->instance};
        if (auto* err = std::get_if<caf::error>(&*answered))
          return std::move(*err);
        return detail::to_caf_error(errc::cancelled, "acquire was not answered");
      },
      [self](release_atom, std::uint64_t lease) {
        if ((lease & detail::remote_lease_bit) != 0)
          caf::anon_send(self->state.cluster, release_atom::value, lease);
        else
          feed(self, lc::release{lease});
      },
      [self](preload_atom, const store_request& req) -> caf::result<caf::ok_atom> {
        if (remote(self, req.store_id)) {
          self->delegate(self->state.cluster, preload_atom::value, req);
          return caf::delegated<caf::ok_atom>{};
        }
        auto answered = admit(self, call_kind::preload, req, nullptr);
        if (!answered)
          return caf::delegated<caf::ok_atom>{};
        if (auto* err = std::get_if<caf::error>(&*answered))
          return std::move(*err);
        return caf::ok_atom::value;
      },
      [self](cancel_atom, std::uint64_t token) {
        auto& st = self->state;
        if (auto i = st.cancel_tokens.find(token); i != st.cancel_tokens.end())
          feed(self, lc::cancel_wait{i->second});
        else if (st.cluster)
          caf::anon_send(st.cluster, cancel_atom::value, token);
      },
      [self](gc_atom, const std::string& id, std::uint64_t generation) {
        feed(self, lc::gc_fired{id, generation});
      },
      [self](clear_atom) -> caf::result<caf::ok_atom> {
        if (!self->state.cluster)
          return close_all<lc::clear>(self, call_kind::clear, "clearing");
        // First this node's leases and handles on other nodes' stores (the
        // cluster actor answers once no call made later can pass them),
        // then the stores here.
        auto rp = self->make_response_promise();
        auto local = [self, rp] { close_all<lc::clear>(self, call_kind::clear, "clearing", rp); };
        self->request(self->state.cluster, caf::infinite, clear_atom::value)
            .then([local](caf::ok_atom) mutable { local(); },
                  [local](caf::error&) mutable { local(); });  // the cluster actor ended
        return rp;
      },
      [self](inspect_atom, const std::string& id) -> caf::result<store_info_msg> {
        if (remote(self, id)) {
          self->delegate(self->state.cluster, inspect_atom::value, id);
          return caf::delegated<store_info_msg>{};
        }
        return to_msg(self->state.machine.info(id, now(self)));
      },
      [self](stats_atom) { return to_msg(self->state.machine.stats()); },
      [self](metrics_atom) {
        const auto& st = self->state;
        return render_prometheus(st.machine.stats(), *st.metrics,
                                 process_figures{open_file_descriptors(), resident_bytes()});
      },
      [self](list_atom) { return list_json(self); },
      [self](list_atom, const std::string& id) -> caf::result<std::string> {
        if (auto listed = self->state.machine.listed(id, now(self)))
          return listed_json(self->state, *listed).dump();
        return detail::to_caf_error(errc::store_disposed, "store '" + id + "' is not held here");
      },
      [self](peek_atom, const std::string& id) -> caf::result<caf::actor, bool> {
        auto& st = self->state;
        if (auto i = st.stores.find(st.machine.loaded_instance(id)); i != st.stores.end())
          return {caf::actor_cast<caf::actor>(i->second.actor), i->second.disable_devtools};
        return detail::to_caf_error(errc::store_disposed, "store '" + id + "' is not loaded here");
      },
      [self](shutdown_atom) {
        return close_all<lc::shutdown>(self, call_kind::shutdown, "shutting down");
      },
  };
}

}  // namespace

caf::actor spawn_registry(caf::actor_system& sys, registry_options options,
                          std::shared_ptr<spdlog::logger> logger) {
  return caf::actor_cast<caf::actor>(
      sys.spawn(registry_impl, std::move(options), std::move(logger), caf::actor{}));
}

namespace detail {

caf::actor spawn_cluster_registry(caf::actor_system& sys, registry_options options,
                                  std::shared_ptr<spdlog::logger> log, caf::actor cluster) {
  return caf::actor_cast<caf::actor>(
      sys.spawn(registry_impl, std::move(options), std::move(log), std::move(cluster)));
}

}  // namespace detail

}  // namespace multistore
