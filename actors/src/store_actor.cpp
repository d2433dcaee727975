// The store actor: the one owner of its engine's order. Its handlers only
// queue operations; the SQLite work runs on the registry's I/O executor, one
// operation (or one group of commits) at a time, and its answer comes back
// as (io_done_atom). `pump` is the one place that carries work off the
// scheduler, `on_done` the one place that hands its answers out.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <span>
#include <unordered_map>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "detail/caf_error.hpp"
#include "detail/store_spawn.hpp"
#include "multistore/client_identity.hpp"
#include "multistore/detail/json_text.hpp"
#include "multistore/sql_value.hpp"

namespace multistore::detail {

namespace {

// -- what the I/O thread works on -----------------------------------------------------

struct subscriber_entry {
  subscription sub;
  caf::actor_addr subscriber;
  std::string sql;  ///< for the devtools
};

/// The engine and what touches it. While a job runs, only that job uses it;
/// between jobs, only the actor (which posts the next job after the last
/// one's io_done). `jobs` counts the jobs not yet finished (two for a moment:
/// a job has sent its done message, the next one was posted); a dying actor
/// waits for it to reach 0.
struct store_core {
  const schema_def* schema = nullptr;
  resolved_options options;
  std::string session_id;
  std::string client_id;
  boot_fn boot;
  std::unique_ptr<store_engine> engine;
  std::unordered_map<std::uint64_t, subscriber_entry> subscriptions;
  /// What the registry lists of this store; written here, read there.
  std::shared_ptr<store_gauges> gauges;

  std::mutex mtx;
  std::condition_variable idle;
  int jobs = 0;
};

struct open_op {
  result<void> outcome;
};
struct commit_op {
  std::vector<event_record> records;
  std::chrono::steady_clock::time_point taken;
  result<std::uint64_t> outcome = 0;
};
struct query_op {
  std::string sql;
  std::string params;
  result<std::string> outcome;
};
struct subscribe_op {
  std::string sql;
  std::string params;
  caf::actor subscriber;
  std::uint64_t id = 0;
  result<void> outcome;
};
struct unsubscribe_op {
  std::uint64_t id = 0;
};
struct drop_subscriber_op {
  caf::actor_addr subscriber;
};
struct head_op {
  result<std::uint64_t> outcome = 0;
};
/// The devtools' view of the store (JSON): its schema, tables, head and subscriptions.
struct describe_op {
  result<nlohmann::json> outcome;
};
struct close_op {};

/// One operation of the store, in mailbox order, with the promise of the
/// request it answers (none for unsubscribe, drop and close).
struct op {
  caf::response_promise answer;
  std::variant<open_op, commit_op, query_op, subscribe_op, unsubscribe_op, drop_subscriber_op,
               head_op, describe_op, close_op>
      body;
};

/// Operations carried off the scheduler together: one op, or a run of
/// commits (one transaction).
using batch = std::vector<op>;

error closed_error(const store_core& c) {
  return error{errc::store_disposed, "store '" + c.options.store_id + "' is closed"};
}

result<std::vector<sql_value>> decode_params(const std::string& text) {
  if (text.empty())
    return std::vector<sql_value>{};
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    return fail(errc::query_failed, "query parameters are not valid JSON");
  return params_from_json(parsed);
}

result<void> open_engine(store_core& c) {
  if (c.engine)
    return {};
  auto identity = store_identity{c.client_id, c.session_id};
  if (auto* file = std::get_if<sqlite_adapter>(&c.options.storage)) {
    auto client = load_or_create_client_id(file->directory);
    if (!client)  // load_failed, or storage_failed when out of file descriptors
      return forward_error(client);
    identity.client_id = std::move(*client);
  }
  auto engine = store_engine::open(*c.schema, c.options.store_id, c.options.storage,
                                   std::move(identity));
  if (!engine)
    return forward_error(engine);
  c.engine = std::move(*engine);
  c.gauges->head.store(c.engine->head(), std::memory_order_relaxed);
  auto boot = std::exchange(c.boot, nullptr);
  if (boot) {
    try {
      boot(*c.engine);
    } catch (const std::exception& e) {
      return fail(errc::load_failed,
                  "boot of store '" + c.options.store_id + "' threw: " + e.what());
    } catch (...) {
      return fail(errc::load_failed, "boot of store '" + c.options.store_id + "' threw");
    }
  }
  return {};
}

void close_engine(store_core& c) noexcept {
  c.subscriptions.clear();
  if (c.engine) {
    c.engine->close();
    c.engine.reset();
  }
}

void commit_all(store_core& c, batch& b) {
  if (!c.engine) {
    for (auto& o : b)
      std::get<commit_op>(o.body).outcome = tl::unexpected(closed_error(c));
    return;
  }
  std::vector<std::span<const event_record>> spans;
  spans.reserve(b.size());
  for (const auto& o : b)
    spans.emplace_back(std::get<commit_op>(o.body).records);
  auto results = c.engine->commit_group(spans);
  for (std::size_t i = 0; i < b.size(); ++i)
    std::get<commit_op>(b[i].body).outcome = std::move(results[i]);
  c.gauges->head.store(c.engine->head(), std::memory_order_relaxed);
}

nlohmann::json describe(const store_core& c) {
  auto tables = nlohmann::json::array();
  for (const auto& t : c.schema->tables())
    tables.push_back(t.name);
  auto subscriptions = nlohmann::json::array();
  for (const auto& [id, entry] : c.subscriptions)
    subscriptions.push_back({{"id", id}, {"sql", entry.sql}});
  return {{"id", c.options.store_id},
          {"schema", c.schema->name()},
          {"head", c.engine->head()},
          {"tables", std::move(tables)},
          {"subscription_queries", std::move(subscriptions)}};
}

/// Runs one operation other than a commit.
void run_one(store_core& c, op& o) {
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, open_op>) {
          x.outcome = open_engine(c);
          if (!x.outcome)
            close_engine(c);
        } else if constexpr (std::is_same_v<T, query_op>) {
          auto bound = decode_params(x.params);
          if (!c.engine)
            x.outcome = tl::unexpected(closed_error(c));
          else if (!bound)
            x.outcome = forward_error(bound);
          else if (auto rows = c.engine->query(x.sql, *bound); !rows)
            x.outcome = forward_error(rows);
          else
            x.outcome = json_text(*rows);
        } else if constexpr (std::is_same_v<T, subscribe_op>) {
          auto bound = decode_params(x.params);
          if (!c.engine) {
            x.outcome = tl::unexpected(closed_error(c));
          } else if (!bound) {
            x.outcome = forward_error(bound);
          } else {
            // Updates go straight from here to the subscriber.
            auto sub = c.engine->subscribe(
                x.sql, std::move(*bound),
                [id = x.id, subscriber = x.subscriber](const nlohmann::json& rows) {
                  caf::anon_send(subscriber, update_atom::value, id, json_text(rows));
                });
            if (!sub)
              x.outcome = forward_error(sub);
            else
              c.subscriptions.emplace(
                  x.id, subscriber_entry{std::move(*sub), x.subscriber.address(), x.sql});
          }
          c.gauges->subscriptions.store(c.subscriptions.size(), std::memory_order_relaxed);
        } else if constexpr (std::is_same_v<T, unsubscribe_op>) {
          c.subscriptions.erase(x.id);
          c.gauges->subscriptions.store(c.subscriptions.size(), std::memory_order_relaxed);
        } else if constexpr (std::is_same_v<T, drop_subscriber_op>) {
          std::erase_if(c.subscriptions,
                        [&](const auto& kv) { return kv.second.subscriber == x.subscriber; });
          c.gauges->subscriptions.store(c.subscriptions.size(), std::memory_order_relaxed);
        } else if constexpr (std::is_same_v<T, head_op>) {
          if (c.engine)
            x.outcome = c.engine->head();
          else
            x.outcome = tl::unexpected(closed_error(c));
        } else if constexpr (std::is_same_v<T, describe_op>) {
          if (c.engine)
            x.outcome = describe(c);
          else
            x.outcome = tl::unexpected(closed_error(c));
        } else if constexpr (std::is_same_v<T, close_op>) {
          close_engine(c);
        } else {
          static_assert(std::is_same_v<T, commit_op>);
        }
      },
      o.body);
}

/// The job: runs a batch against the engine. Never throws: an exception
/// (out of memory) becomes every operation's error.
void run(store_core& c, batch& b) noexcept {
  try {
    if (std::holds_alternative<commit_op>(b.front().body))
      commit_all(c, b);
    else
      run_one(c, b.front());
  } catch (const std::exception& e) {
    auto failed = tl::unexpected(error{errc::storage_failed, e.what()});
    for (auto& o : b)
      std::visit(
          [&](auto& x) {
            if constexpr (requires { x.outcome; })
              x.outcome = failed;
          },
          o.body);
  }
}

// -- the actor ------------------------------------------------------------------------

struct store_actor_state {
  std::shared_ptr<store_core> core;
  std::shared_ptr<io_executor> io;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<registry_metrics> metrics;
  std::size_t max_pending_commits = default_max_pending_commits;

  std::deque<op> queue;             ///< not yet posted, in mailbox order
  std::shared_ptr<batch> running;   ///< posted, until its io_done
  std::size_t pending_commits = 0;  ///< queued or running, not yet answered
  bool closing = false;             ///< close_atom arrived: later requests are refused
  bool flush_sent = false;          ///< a flush_atom is on its way to this actor
  std::uint64_t next_subscription = 1;
  caf::error overloaded_error;

  ~store_actor_state() { finish(); }

  const std::string& store_id() const { return core->options.store_id; }

  /// The answer to a commit beyond the limit. Made once: a flood gets copies
  /// that share its text.
  caf::error overloaded() {
    if (!overloaded_error)
      overloaded_error = to_caf_error(
          errc::overloaded, "store '" + store_id() + "' holds " + std::to_string(max_pending_commits)
                                + " commits not yet answered (max_pending_commits "
                                + std::to_string(max_pending_commits)
                                + "): this one was not written; retry after some are answered");
    return overloaded_error;
  }

  /// Takes the next batch off the queue: one op, or every commit at its head.
  batch take() {
    batch b;
    b.push_back(std::move(queue.front()));
    queue.pop_front();
    if (std::holds_alternative<commit_op>(b.front().body))
      while (!queue.empty() && std::holds_alternative<commit_op>(queue.front().body)) {
        b.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    return b;
  }

  /// Answers the operations of a finished batch.
  void answer(batch& b) {
    for (auto& o : b)
      std::visit([&](auto& x) { answer(o.answer, x); }, o.body);
  }

  template <class T>
  static void deliver(caf::response_promise& rp, result<T>& r) {
    if (!rp.pending())
      return;
    if (r)
      rp.deliver(std::move(*r));
    else
      rp.deliver(to_caf_error(r.error()));
  }

  void answer(caf::response_promise& rp, open_op& x) {
    if (!rp.pending())
      return;
    if (x.outcome)
      rp.deliver(caf::ok_atom::value);
    else
      rp.deliver(to_caf_error(x.outcome.error()));
  }
  void answer(caf::response_promise& rp, commit_op& x) {
    --pending_commits;
    auto& m = *metrics;
    m.pending_commits.fetch_sub(1, std::memory_order_relaxed);
    core->gauges->pending_commits.store(pending_commits, std::memory_order_relaxed);
    if (x.outcome) {
      m.commits.fetch_add(1, std::memory_order_relaxed);
      m.events_committed.fetch_add(x.records.size(), std::memory_order_relaxed);
    } else {
      m.commit_failures.fetch_add(1, std::memory_order_relaxed);
    }
    m.commit_latency.record(std::chrono::steady_clock::now() - x.taken);
    deliver(rp, x.outcome);
  }
  void answer(caf::response_promise& rp, describe_op& x) {
    if (!rp.pending())
      return;
    if (x.outcome) {
      (*x.outcome)["pending_commits"] = pending_commits;
      rp.deliver(json_text(*x.outcome));
    } else {
      rp.deliver(to_caf_error(x.outcome.error()));
    }
  }
  void answer(caf::response_promise& rp, query_op& x) { deliver(rp, x.outcome); }
  void answer(caf::response_promise& rp, subscribe_op& x) {
    if (!rp.pending())
      return;
    if (x.outcome)
      rp.deliver(x.id);
    else
      rp.deliver(to_caf_error(x.outcome.error()));
  }
  void answer(caf::response_promise& rp, head_op& x) {
    if (!rp.pending())
      return;
    if (x.outcome)
      rp.deliver(store_id(), *x.outcome);
    else
      rp.deliver(to_caf_error(x.outcome.error()));
  }
  void answer(caf::response_promise&, unsubscribe_op&) {}
  void answer(caf::response_promise&, drop_subscriber_op&) {}
  void answer(caf::response_promise&, close_op&) {}

  /// When the actor ends (closed, killed, failed, or the system stops):
  /// waits for the job in flight, then does what is still queued on this
  /// thread, so that no commit it took is lost, and closes the engine.
  void finish() noexcept {
    if (!core)
      return;
    {
      std::unique_lock lock{core->mtx};
      core->idle.wait(lock, [&] { return core->jobs == 0; });
    }
    if (running) {
      answer(*running);
      running.reset();
    }
    while (!queue.empty()) {
      auto b = take();
      run(*core, b);
      answer(b);
    }
    close_engine(*core);
    core.reset();
  }

  static inline const char* name = "multistore.store";
};

using store_self = store_actor_type::stateful_pointer<store_actor_state>;

/// Posts the next batch unless one is in flight. The one place where engine
/// work leaves the actor; its answer comes back as (io_done_atom).
void pump(store_self self) {
  auto& st = self->state;
  if (st.running || st.queue.empty())
    return;
  st.running = std::make_shared<batch>(st.take());
  {
    std::lock_guard guard{st.core->mtx};
    ++st.core->jobs;
  }
  st.io->post([core = st.core, b = st.running, me = caf::actor_cast<store_actor_type>(self)] {
    run(*core, *b);
    // Sent while the job still counts: a dying actor waits for it in
    // finish(), so this send never outlives the actor or its system. The
    // handle goes with the job, after the count dropped: were it the last
    // one, the actor would end on this thread, and its finish() waits for
    // the count.
    caf::anon_send(me, io_done_atom::value);
    {
      std::lock_guard guard{core->mtx};
      --core->jobs;
    }
    core->idle.notify_all();
  });
}

/// Posts the queued work now if no other message waits; else once those
/// are queued too (a flush message goes behind them), so that a burst of
/// commits in the mailbox goes as one transaction.
void pump_soon(store_self self) {
  auto& st = self->state;
  if (st.running || st.queue.empty())
    return;
  if (self->mailbox().empty()) {
    pump(self);
  } else if (!st.flush_sent) {
    st.flush_sent = true;
    self->send(self, flush_atom::value);
  }
}

/// Queues `o` and answers its request later (or never, for a send).
caf::response_promise enqueue(store_self self, op o) {
  auto rp = o.answer;
  self->state.queue.push_back(std::move(o));
  pump_soon(self);
  return rp;
}

/// The batch in flight is done: its answers go out, then the next one.
void on_done(store_self self) {
  auto& st = self->state;
  auto b = std::move(st.running);
  if (!b)
    return;
  st.answer(*b);
  const auto& last = b->back().body;
  if (auto* opened = std::get_if<open_op>(&last); opened && !opened->outcome) {
    st.closing = true;
    self->quit();  // the load failed: the registry has its answer
    return;
  }
  if (auto* sub = std::get_if<subscribe_op>(&last); sub && sub->outcome)
    self->monitor(sub->subscriber);
  if (std::holds_alternative<close_op>(last)) {
    self->quit();
    return;
  }
  pump_soon(self);
}

caf::error disposed(const store_actor_state& st) {
  return to_caf_error(closed_error(*st.core));
}

store_actor_type::behavior_type store_actor_impl(store_self self, store_spawn_args args) {
  auto core = std::make_shared<store_core>();
  core->schema = args.schema;
  core->options = std::move(args.options);
  core->session_id = std::move(args.session_id);
  core->client_id = std::move(args.client_id);
  core->boot = std::move(args.boot);
  core->gauges = args.gauges ? std::move(args.gauges) : std::make_shared<store_gauges>();
  self->state.metrics = args.metrics ? std::move(args.metrics)
                                     : std::make_shared<registry_metrics>();
  self->state.core = std::move(core);
  self->state.io = std::move(args.io);
  self->state.logger = std::move(args.logger);
  self->state.max_pending_commits = args.max_pending_commits;
  self->set_exception_handler([self](std::exception_ptr& ep) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    if (self->state.logger)
      self->state.logger->error("store {} failed: {}", self->state.store_id(), what);
    self->state.finish();
    return to_caf_error(errc::storage_failed, what);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    if (!self->state.closing)
      enqueue(self, op{{}, drop_subscriber_op{msg.source}});
  });
  return {
      [self](open_atom) -> caf::result<caf::ok_atom> {
        return enqueue(self, op{self->make_response_promise(), open_op{}});
      },
      [self](commit_atom, const std::vector<wire_event>& events) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        if (st.closing)
          return disposed(st);
        if (st.pending_commits >= st.max_pending_commits) {
          st.metrics->overloaded_commits.fetch_add(1, std::memory_order_relaxed);
          st.metrics->commit_failures.fetch_add(1, std::memory_order_relaxed);
          return st.overloaded();
        }
        std::vector<event_record> records;
        records.reserve(events.size());
        for (const auto& e : events) {
          auto parsed = nlohmann::json::parse(e.args, nullptr, false);
          if (parsed.is_discarded())
            return to_caf_error(errc::invalid_event,
                                "arguments of event '" + e.name + "' are not valid JSON");
          records.push_back(event_record{e.name, std::move(parsed), e.args});
        }
        ++st.pending_commits;
        st.metrics->pending_commits.fetch_add(1, std::memory_order_relaxed);
        st.core->gauges->pending_commits.store(st.pending_commits, std::memory_order_relaxed);
        return enqueue(self, op{self->make_response_promise(),
                                commit_op{std::move(records), std::chrono::steady_clock::now()}});
      },
      [self](io_done_atom) { on_done(self); },
      [self](flush_atom) {
        self->state.flush_sent = false;
        pump(self);
      },
      [self](query_atom, const std::string& sql,
             const std::string& params) -> caf::result<std::string> {
        if (self->state.closing)
          return disposed(self->state);
        return enqueue(self, op{self->make_response_promise(), query_op{sql, params}});
      },
      [self](subscribe_atom, const std::string& sql, const std::string& params,
             const caf::actor& subscriber) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        if (st.closing)
          return disposed(st);
        auto id = st.next_subscription++;
        return enqueue(self,
                       op{self->make_response_promise(), subscribe_op{sql, params, subscriber, id}});
      },
      [self](unsubscribe_atom, std::uint64_t id) {
        if (!self->state.closing)
          enqueue(self, op{{}, unsubscribe_op{id}});
      },
      [self](caf::get_atom) -> caf::result<std::string, std::uint64_t> {
        if (self->state.closing)
          return disposed(self->state);
        return enqueue(self, op{self->make_response_promise(), head_op{}});
      },
      [self](inspect_atom) -> caf::result<std::string> {
        if (self->state.closing)
          return disposed(self->state);
        return enqueue(self, op{self->make_response_promise(), describe_op{}});
      },
      // No answer: the registry sees the store's down message once it closed.
      [self](close_atom) {
        auto& st = self->state;
        if (st.closing)
          return;
        st.closing = true;
        enqueue(self, op{{}, close_op{}});
      },
  };
}

}  // namespace

store_actor_type spawn_store(caf::actor_system& sys, store_spawn_args args) {
  return sys.spawn<caf::lazy_init>(store_actor_impl, std::move(args));
}

}  // namespace multistore::detail
