#include <span>
#include <unordered_map>

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

struct subscriber_entry {
  subscription sub;
  caf::actor_addr subscriber;
};

/// A commit held back to share a transaction with the ones queued behind it.
struct held_commit {
  caf::response_promise answer;
  std::vector<event_record> records;
};

struct store_actor_state {
  store_spawn_args args;
  std::unique_ptr<store_engine> engine;
  std::unordered_map<std::uint64_t, subscriber_entry> subscriptions;
  std::uint64_t next_subscription = 1;
  std::vector<held_commit> held;  ///< in arrival order
  bool flush_sent = false;

  ~store_actor_state() { close(); }

  /// Commits the held commits in one transaction (group commit) and answers
  /// each.
  void flush() noexcept {
    if (held.empty())
      return;
    auto batch = std::move(held);
    held.clear();
    try {
      std::vector<std::span<const event_record>> spans;
      spans.reserve(batch.size());
      for (const auto& h : batch)
        spans.emplace_back(h.records);
      // Commits are held only while the engine is open, and close() flushes
      // before it closes the engine.
      auto results = engine->commit_group(spans);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (results[i])
          batch[i].answer.deliver(*results[i]);
        else
          batch[i].answer.deliver(to_caf_error(results[i].error()));
      }
    } catch (const std::exception& e) {  // out of memory: nothing may stay unanswered
      for (auto& h : batch)
        if (h.answer.pending())
          h.answer.deliver(to_caf_error(errc::storage_failed, e.what()));
    }
  }

  void close() noexcept {
    flush();
    subscriptions.clear();
    if (engine) {
      engine->close();
      engine.reset();
    }
  }

  static inline const char* name = "multistore.store";
};

using store_self = store_actor_type::stateful_pointer<store_actor_state>;

result<std::vector<sql_value>> decode_params(const std::string& text) {
  if (text.empty())
    return std::vector<sql_value>{};
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    return fail(errc::query_failed, "query parameters are not valid JSON");
  return params_from_json(parsed);
}

result<void> open_engine(store_actor_state& st) {
  auto identity = store_identity{st.args.client_id, st.args.session_id};
  if (auto* file = std::get_if<sqlite_adapter>(&st.args.options.storage)) {
    auto client = load_or_create_client_id(file->directory);
    if (!client)  // load_failed, or storage_failed when out of file descriptors
      return forward_error(client);
    identity.client_id = std::move(*client);
  }
  auto engine = store_engine::open(*st.args.schema, st.args.options.store_id, st.args.options.storage,
                                   std::move(identity));
  if (!engine)
    return forward_error(engine);
  st.engine = std::move(*engine);
  if (st.args.boot) {
    try {
      st.args.boot(*st.engine);
    } catch (const std::exception& e) {
      return fail(errc::load_failed,
                  "boot of store '" + st.args.options.store_id + "' threw: " + e.what());
    } catch (...) {
      return fail(errc::load_failed, "boot of store '" + st.args.options.store_id + "' threw");
    }
  }
  st.args.boot = nullptr;
  return {};
}

error closed_error(const store_actor_state& st) {
  return error{errc::store_disposed, "store '" + st.args.options.store_id + "' is closed"};
}

caf::error disposed(const store_actor_state& st) {
  return to_caf_error(closed_error(st));
}

/// Before a query or subscription: commits what is held, so that answers
/// follow mailbox order, and decodes the bound parameters.
result<std::vector<sql_value>> begin_read(store_actor_state& st, const std::string& params) {
  st.flush();
  if (!st.engine)
    return tl::unexpected(closed_error(st));
  return decode_params(params);
}

store_actor_type::behavior_type store_actor_impl(store_self self, store_spawn_args args) {
  self->state.args = std::move(args);
  self->set_exception_handler([self](std::exception_ptr& ep) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    if (self->state.args.logger)
      self->state.args.logger->error("store {} failed: {}", self->state.args.options.store_id, what);
    self->state.close();
    return to_caf_error(errc::storage_failed, what);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    std::erase_if(self->state.subscriptions,
                  [&](const auto& kv) { return kv.second.subscriber == msg.source; });
  });
  return {
      [self](open_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.engine)
          return caf::ok_atom::value;
        if (auto opened = open_engine(st); !opened) {
          st.close();
          self->quit();
          return to_caf_error(opened.error());
        }
        return caf::ok_atom::value;
      },
      [self](commit_atom, const std::vector<wire_event>& events) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        if (!st.engine)
          return disposed(st);
        std::vector<event_record> records;
        records.reserve(events.size());
        for (const auto& e : events) {
          auto parsed = nlohmann::json::parse(e.args, nullptr, false);
          if (parsed.is_discarded())
            return to_caf_error(errc::invalid_event,
                                "arguments of event '" + e.name + "' are not valid JSON");
          records.push_back(event_record{e.name, std::move(parsed), e.args});
        }
        if (st.held.empty() && self->mailbox().empty()) {  // nothing to share a transaction with
          auto seq = st.engine->commit(records);
          if (!seq)
            return to_caf_error(seq.error());
          return *seq;
        }
        // More messages are queued: hold this commit until the flush message,
        // queued behind them, so that the commits among them share one
        // transaction. Any other message flushes first, keeping mailbox order.
        auto answer = self->make_response_promise();
        st.held.push_back(held_commit{answer, std::move(records)});
        if (!st.flush_sent) {
          st.flush_sent = true;
          self->send(self, flush_atom::value);
        }
        return answer;
      },
      [self](flush_atom) {
        self->state.flush_sent = false;
        self->state.flush();
      },
      [self](query_atom, const std::string& sql,
             const std::string& params) -> caf::result<std::string> {
        auto& st = self->state;
        auto bound = begin_read(st, params);
        if (!bound)
          return to_caf_error(bound.error());
        auto rows = st.engine->query(sql, *bound);
        if (!rows)
          return to_caf_error(rows.error());
        return json_text(*rows);
      },
      [self](subscribe_atom, const std::string& sql, const std::string& params,
             const caf::actor& subscriber) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        auto bound = begin_read(st, params);
        if (!bound)
          return to_caf_error(bound.error());
        auto id = st.next_subscription++;
        auto sub = st.engine->subscribe(
            sql, std::move(*bound), [id, subscriber](const nlohmann::json& rows) {
              caf::anon_send(subscriber, update_atom::value, id, json_text(rows));
            });
        if (!sub)
          return to_caf_error(sub.error());
        self->monitor(subscriber);
        st.subscriptions.emplace(id, subscriber_entry{std::move(*sub), subscriber.address()});
        return id;
      },
      [self](unsubscribe_atom, std::uint64_t id) {
        self->state.flush();
        self->state.subscriptions.erase(id);
      },
      [self](caf::get_atom) -> caf::result<std::string, std::uint64_t> {
        auto& st = self->state;
        st.flush();
        if (!st.engine)
          return disposed(st);
        return {st.args.options.store_id, st.engine->head()};
      },
      // No answer: the registry sees the store's down message once it closed.
      [self](close_atom) {
        self->state.close();
        self->quit();
      },
  };
}

}  // namespace

store_actor_type spawn_store(caf::actor_system& sys, store_spawn_args args) {
  return sys.spawn<caf::lazy_init>(store_actor_impl, std::move(args));
}

}  // namespace multistore::detail
