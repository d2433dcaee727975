#include "detail/cluster_actor.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "detail/caf_error.hpp"
#include "detail/logging.hpp"
#include "multistore/cluster.hpp"
#include "multistore/membership.hpp"
#include "multistore/messages.hpp"
#include "multistore/placement.hpp"
#include "multistore/registry_actor.hpp"

namespace multistore::detail {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// How often the cluster actor looks for a peer to dial.
constexpr auto tick_interval = 100ms;
/// A connect or hello not answered by then counts as failed.
constexpr auto connect_timeout = 2s;

caf::error unavailable(std::string message) {
  return to_caf_error(errc::unavailable, std::move(message));
}

/// A remote call's failure as its caller sees it: multistore's own errors
/// pass; a timeout or a lost link is `unavailable`.
caf::error remote_failure(const caf::error& err, const std::string& what) {
  if (err.category() == error_category)
    return err;
  return unavailable(what + " failed: " + caf::to_string(err));
}

// -- the stand-in for a store another node owns -------------------------------------

/// A local actor with a store actor's protocol that passes every request on
/// to the remote store and its answer back. It watches the remote store: when
/// the link to its node is lost, it fails what is in flight and everything
/// after with `unavailable` (when the store closed, `store_disposed`) and
/// ends its subscribers. It lives until its last lease is released, and the
/// cluster actor ends it when it ends itself (an actor left alive would hold
/// up the actor system's destructor). This node's clear() fails every call
/// after it; a call already passed on gets the owner's answer, which is the
/// truth about it (a commit may have been written), and then it ends.
struct remote_store_state {
  caf::actor remote;
  std::string store_id;
  std::string owner;
  std::optional<caf::error> dead;
  bool cleared = false;  ///< ends once `calls` is empty
  std::uint64_t next_call = 1;
  std::unordered_map<std::uint64_t, caf::response_promise> calls;
  std::vector<caf::actor> subscribers;

  static inline const char* name = "multistore.remote_store";
};

using remote_store_self = caf::stateful_actor<remote_store_state>*;

template <class... Rs, class... Ts>
caf::response_promise relay(remote_store_self self, Ts&&... xs) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (st.dead) {
    rp.deliver(*st.dead);
    return rp;
  }
  const auto id = st.next_call++;
  st.calls.emplace(id, rp);
  auto take = [self, id]() -> std::optional<caf::response_promise> {
    auto& calls = self->state.calls;
    auto i = calls.find(id);
    if (i == calls.end())
      return std::nullopt;  // failed already, when the link was lost
    auto out = std::move(i->second);
    calls.erase(i);
    if (self->state.cleared && calls.empty())
      self->quit(caf::exit_reason::user_shutdown);
    return out;
  };
  // No timeout: the monitor fails this call when the store or the link goes
  // (BASP kills every proxy of a lost node, and the heartbeat timeout loses a
  // hung one), and a timeout would cost a wake-up of CAF's clock thread on
  // every call.
  self->request(st.remote, caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [take](Rs&... rs) {
            if (auto p = take())
              p->deliver(std::move(rs)...);
          },
          [self, take](caf::error& err) {
            if (auto p = take())
              p->deliver(remote_failure(err, "a call to store '" + self->state.store_id + "'"));
          });
  return rp;
}

caf::behavior remote_store(remote_store_self self, caf::actor remote, std::string store_id,
                           std::string owner) {
  self->state.remote = remote;
  self->state.store_id = std::move(store_id);
  self->state.owner = std::move(owner);
  self->monitor(remote);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.remote.address())
      return;
    st.dead = msg.reason == caf::exit_reason::remote_link_unreachable
                  ? unavailable("store '" + st.store_id + "' is owned by node '" + st.owner
                                + "', which is down or unreachable")
                  : to_caf_error(errc::store_disposed,
                                 "store '" + st.store_id + "' was closed on node '" + st.owner + "'");
    for (auto& [id, rp] : st.calls)
      rp.deliver(*st.dead);
    st.calls.clear();
    for (auto& s : st.subscribers)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    st.subscribers.clear();
    if (st.cleared)
      self->quit(caf::exit_reason::user_shutdown);
  });
  return {
      [self](commit_atom a, std::vector<wire_event>& events) {
        return relay<std::uint64_t>(self, a, std::move(events));
      },
      [self](query_atom a, std::string& sql, std::string& params) {
        return relay<std::string>(self, a, std::move(sql), std::move(params));
      },
      [self](subscribe_atom a, std::string& sql, std::string& params, caf::actor& subscriber) {
        if (!self->state.dead)
          self->state.subscribers.push_back(subscriber);
        return relay<std::uint64_t>(self, a, std::move(sql), std::move(params),
                                    std::move(subscriber));
      },
      [self](unsubscribe_atom a, std::uint64_t id) {
        if (!self->state.dead)
          self->send(self->state.remote, a, id);
      },
      [self](caf::get_atom a) { return relay<std::string, std::uint64_t>(self, a); },
      [self](clear_atom) {  // this node's clear(): its handles and subscriptions end
        auto& st = self->state;
        for (auto& s : st.subscribers)
          self->send_exit(s, caf::exit_reason::user_shutdown);
        st.subscribers.clear();
        st.cleared = true;
        if (!st.dead)
          st.dead = to_caf_error(errc::store_disposed,
                                 "store '" + st.store_id + "' was cleared from this node");
        if (st.calls.empty())
          self->quit(caf::exit_reason::user_shutdown);
        return caf::ok_atom::value;
      },
  };
}

// -- the cluster actor -----------------------------------------------------------------

/// A call to a peer's registry, waiting for its answer.
struct pending_call {
  caf::response_promise promise;
  bool load = false;  ///< a use or preload: clear() cancels it
};

/// Another member, as this node sees it.
struct peer {
  const cluster_member* member = nullptr;
  peer_state link;
  bool dials = false;  ///< this node dials it (our name sorts first)
  /// Counts the peer's comings up: a lease taken before the peer was lost
  /// is never released on its next incarnation.
  std::uint64_t epoch = 0;
  caf::actor agent;  ///< its cluster actor, while up
  caf::actor registry;
  /// Calls waiting for its answer; failed with `unavailable` on the loss.
  std::unordered_map<std::uint64_t, pending_call> calls;
  std::string last_failure;  ///< why the last attempt to reach it failed
};

/// A lease this node holds on a remote store, for a local caller.
struct remote_lease {
  std::size_t peer = 0;
  std::uint64_t epoch = 0;
  std::uint64_t remote = 0;  ///< the lease id on the owner
  std::tuple<std::size_t, std::uint64_t, std::uint64_t> stub_key;
  caf::actor_control_block* observer = nullptr;
};

struct stub {
  caf::actor actor;
  std::size_t leases = 0;
};

struct cluster_state {
  cluster_options opts;
  std::size_t self_index = 0;
  std::shared_ptr<spdlog::logger> log;
  caf::actor registry;
  std::vector<peer> peers;  ///< by member index; ours is unused
  steady::time_point started;
  std::string last_refusal;  ///< why the last refused hello was refused

  std::uint64_t next_call = 1;
  std::uint64_t next_lease = 1;
  std::unordered_map<std::uint64_t, remote_lease> leases;
  /// By (peer, its epoch, instance): a restarted owner counts instances
  /// from 1 again, and a stand-in of its earlier run must not serve them.
  std::map<std::tuple<std::size_t, std::uint64_t, std::uint64_t>, stub> stubs;
  /// Callers that hold remote leases as observers (the actor API).
  std::unordered_map<caf::actor_control_block*, std::pair<caf::actor_addr, std::size_t>>
      observers;
  /// Cancel tokens of waiting remote acquires: token -> (peer, call).
  std::unordered_map<std::uint64_t, std::pair<std::size_t, std::uint64_t>> cancel_tokens;

  static inline const char* name = "multistore.cluster";
};

using cluster_self = caf::stateful_actor<cluster_state>*;

hello_msg to_msg(const hello& h) {
  return hello_msg{h.cluster, h.members_digest, h.protocol_version, h.member};
}

hello from_msg(const hello_msg& m) {
  return hello{m.cluster, m.members_digest, m.protocol_version, m.member};
}

std::optional<caf::response_promise> take_call(peer& p, std::uint64_t id) {
  auto i = p.calls.find(id);
  if (i == p.calls.end())
    return std::nullopt;
  auto out = std::move(i->second.promise);
  p.calls.erase(i);
  return out;
}

/// The peer is up with `agent` and `registry`.
void come_up(cluster_self self, std::size_t index, caf::actor agent, caf::actor registry,
             bool dialed_in) {
  auto& st = self->state;
  auto& p = st.peers[index];
  const auto now = steady::now();
  if (dialed_in ? !p.link.dialed_in(now) : !p.link.hello_accepted(now))
    return;
  ++p.epoch;
  p.agent = std::move(agent);
  p.registry = std::move(registry);
  self->monitor(p.agent);
  st.log->info("cluster: node '{}' is up", p.member->name);
}

/// The link to peer `index` is gone: its calls fail, its leases are dead.
void lose(cluster_self self, std::size_t index, const std::string& why) {
  auto& st = self->state;
  auto& p = st.peers[index];
  if (!p.link.lost(steady::now()))
    return;
  st.log->warn("cluster: node '{}' is down ({})", p.member->name, why);
  if (p.agent)
    self->demonitor(p.agent);
  p.agent = nullptr;
  p.registry = nullptr;
  auto calls = std::move(p.calls);
  p.calls.clear();
  for (auto& [id, call] : calls)
    call.promise.deliver(unavailable("node '" + p.member->name + "' went down during the call"));
}

void dial(cluster_self self, std::size_t index) {
  auto& p = self->state.peers[index];
  p.link.attempting(steady::now());
  auto failed = [self, index](const std::string& why) {
    auto& q = self->state.peers[index];
    if (!q.link.attempt_failed(steady::now()))
      return;
    // One line at warn for each new reason, not one a second while it lasts.
    const bool news = why != q.last_failure;
    q.last_failure = why;
    self->state.log->log(news ? spdlog::level::warn : spdlog::level::debug,
                         "cluster: connecting to '{}' at {}:{} failed: {} (retrying)",
                         q.member->name, q.member->host, q.member->port, why);
  };
  auto& sys = self->system();  // no middleman is needed until a node dials
  auto mm = uses_tls(self->state.opts) ? sys.openssl_manager().actor_handle()
                                       : sys.middleman().actor_handle();
  self->request(mm, connect_timeout, caf::connect_atom::value, p.member->host, p.member->port)
      .then(
          [self, index, failed](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                const std::set<std::string>&) {
            if (!ptr) {
              failed("no actor published at that port");
              return;
            }
            auto agent = caf::actor_cast<caf::actor>(ptr);
            self->request(agent, connect_timeout, hello_atom::value,
                          to_msg(make_hello(self->state.opts)), self->state.registry)
                .then(
                    [self, index, agent, failed](hello_msg& theirs, caf::actor& registry) {
                      auto& st = self->state;
                      auto& q = st.peers[index];
                      if (auto ok = check_hello(from_msg(theirs), st.opts, q.member->name); !ok) {
                        failed("refused its hello: " + ok.error().message);
                        return;
                      }
                      come_up(self, index, agent, std::move(registry), false);
                    },
                    [self, index, failed](caf::error& err) {
                      failed(err.category() == error_category
                                 ? "it refused our hello: " + to_error(err).message
                                 : caf::to_string(err));
                    });
          },
          [failed](caf::error& err) { failed(caf::to_string(err)); });
}

/// The peer that owns `store_id`, or an error: ourselves (a routing bug) or
/// a peer that is down.
caf::expected<std::size_t> owner_peer(cluster_self self, const std::string& store_id) {
  auto& st = self->state;
  const auto index = owner_index(store_id, st.opts.members);
  if (index == st.self_index)
    return to_caf_error(errc::invalid_options,
                        "store '" + store_id + "' is owned by this node, not a remote one");
  auto& p = st.peers[index];
  if (p.link.phase() != peer_phase::up)
    return unavailable("store '" + store_id + "' is owned by node '" + p.member->name
                       + "', which is down or unreachable");
  return index;
}

/// Asks the owner's registry; the answer (or the loss of the link) goes to
/// the caller. `on_answer(rp, answer...)` delivers a success.
template <class... Rs, class OnAnswer, class... Ts>
caf::response_promise ask_owner(cluster_self self, std::size_t index, std::string what,
                                std::uint64_t& call_id, OnAnswer on_answer, Ts&&... xs) {
  auto& st = self->state;
  auto& p = st.peers[index];
  auto promise = self->make_response_promise();
  const auto id = st.next_call++;
  call_id = id;
  constexpr bool load = (std::is_same_v<std::decay_t<Ts>, acquire_atom> || ...)
                        || (std::is_same_v<std::decay_t<Ts>, preload_atom> || ...);
  p.calls.emplace(id, pending_call{promise, load});
  // No timeout (see relay): the loss of the peer's agent fails the call.
  self->request(p.registry, caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [self, index, id, on_answer](Rs&... rs) mutable {
            auto rp = take_call(self->state.peers[index], id);
            on_answer(rp, rs...);
          },
          [self, index, id, what](caf::error& err) {
            if (auto rp = take_call(self->state.peers[index], id))
              rp->deliver(remote_failure(err, what));
          });
  return promise;
}

void release_remote(cluster_self self, std::uint64_t lease_id) {
  auto& st = self->state;
  auto i = st.leases.find(lease_id);
  if (i == st.leases.end())
    return;
  auto l = i->second;
  st.leases.erase(i);
  auto& p = st.peers[l.peer];
  if (p.epoch == l.epoch && p.link.phase() == peer_phase::up)
    self->send(p.registry, release_atom::value, l.remote);
  if (auto s = st.stubs.find(l.stub_key); s != st.stubs.end() && --s->second.leases == 0) {
    // Not `normal`: an actor that does not trap exits ignores that reason.
    self->send_exit(s->second.actor, caf::exit_reason::user_shutdown);
    st.stubs.erase(s);
  }
  if (l.observer != nullptr)
    if (auto o = st.observers.find(l.observer); o != st.observers.end() && --o->second.second == 0) {
      self->demonitor(o->second.first);
      st.observers.erase(o);
    }
}

/// An acquire's answer from the owner: a local lease and the stand-in.
void hand_out(cluster_self self, std::optional<caf::response_promise>& rp, std::size_t index,
              caf::actor_control_block* observer, const std::string& store_id,
              caf::actor& store, std::uint64_t remote, std::uint64_t instance) {
  auto& st = self->state;
  auto& p = st.peers[index];
  if (!rp) {  // cancelled or the link was lost meanwhile: give the lease back
    if (p.link.phase() == peer_phase::up)
      self->send(p.registry, release_atom::value, remote);
    return;
  }
  auto key = std::make_tuple(index, p.epoch, instance);
  auto s = st.stubs.find(key);
  if (s == st.stubs.end())
    s = st.stubs
            .emplace(key, stub{self->spawn(remote_store, store, store_id, p.member->name), 0})
            .first;
  ++s->second.leases;
  const auto id = remote_lease_bit | st.next_lease++;
  st.leases.emplace(id, remote_lease{index, p.epoch, remote, key, observer});
  if (observer != nullptr) {
    auto [o, added] = st.observers.try_emplace(
        observer, caf::actor_cast<caf::actor_addr>(observer), 0);
    if (added)
      self->monitor(o->second.first);
    ++o->second.second;
  }
  rp->deliver(s->second.actor, id, instance);
}

caf::behavior cluster_impl(cluster_self self, cluster_options opts,
                           std::shared_ptr<spdlog::logger> log) {
  auto& state = self->state;
  state.log = library_logger(std::move(log));
  state.started = steady::now();
  state.opts = std::move(opts);
  for (std::size_t i = 0; i < state.opts.members.size(); ++i) {
    const auto& m = state.opts.members[i];
    if (m.name == state.opts.self)
      state.self_index = i;
    state.peers.push_back(
        peer{&m, peer_state{state.started}, state.opts.self < m.name, 0, {}, {}, {}, {}});
  }
  // Its end ends the stand-ins (and so their subscribers).
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [key, s] : self->state.stubs)
      self->send_exit(s.actor, caf::exit_reason::user_shutdown);
    self->state.stubs.clear();
    self->quit(std::move(msg.reason));
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.peers.size(); ++i)
      if (st.peers[i].agent && st.peers[i].agent.address() == msg.source) {
        lose(self, i, caf::to_string(msg.reason));
        return;
      }
    auto* block = msg.source.get();
    if (st.observers.count(block) == 0)
      return;
    std::vector<std::uint64_t> held;
    for (auto& [id, l] : st.leases)
      if (l.observer == block)
        held.push_back(id);
    for (auto id : held)
      release_remote(self, id);
  });
  return {
      [self](caf::put_atom, caf::actor& registry) { self->state.registry = std::move(registry); },
      [self](tick_atom) {
        auto& st = self->state;
        const auto now = steady::now();
        for (std::size_t i = 0; i < st.peers.size(); ++i)
          if (i != st.self_index && st.peers[i].dials && st.peers[i].link.attempt_due(now))
            dial(self, i);
        self->delayed_send(self, tick_interval, tick_atom::value);
      },
      [self](hello_atom, hello_msg& theirs,
             caf::actor& registry) -> caf::result<hello_msg, caf::actor> {
        auto& st = self->state;
        auto h = from_msg(theirs);
        if (auto ok = check_hello(h, st.opts); !ok) {
          const bool news = ok.error().message != st.last_refusal;
          st.last_refusal = ok.error().message;
          st.log->log(news ? spdlog::level::err : spdlog::level::debug,
                      "cluster: refused a node's hello: {}", ok.error().message);
          return to_caf_error(ok.error());
        }
        std::size_t index = 0;
        while (st.opts.members[index].name != h.member)
          ++index;
        auto agent = caf::actor_cast<caf::actor>(self->current_sender());
        auto& p = st.peers[index];
        if (p.link.phase() == peer_phase::up && p.agent != agent)
          lose(self, index, "it dialed again: restarted");
        come_up(self, index, std::move(agent), std::move(registry), true);
        return {to_msg(make_hello(st.opts)), st.registry};
      },
      [self](acquire_atom a, store_request& req)
          -> caf::result<caf::actor, std::uint64_t, std::uint64_t> {
        auto& st = self->state;
        if (auto ok = validate(req); !ok) {
          take_boot(req.boot);
          return to_caf_error(ok.error());
        }
        auto index = owner_peer(self, req.store_id);
        if (!index) {
          take_boot(req.boot);
          return index.error();
        }
        if (req.boot != 0) {
          take_boot(req.boot);
          return to_caf_error(errc::invalid_options,
                              "store '" + req.store_id + "' is owned by node '"
                                  + st.peers[*index].member->name
                                  + "': a boot callback runs only on the owner, so a use() of a "
                                    "remote store cannot carry one");
        }
        caf::actor_control_block* observer =
            req.observe ? self->current_sender().get() : nullptr;
        const auto token = req.cancel_token;
        req.observe = true;  // the owner monitors this actor: its end releases
        req.cancel_token = 0;
        std::uint64_t call_id = 0;
        auto promise = ask_owner<caf::actor, std::uint64_t, std::uint64_t>(
            self, *index, "use of store '" + req.store_id + "'", call_id,
            [self, index = *index, observer, id = req.store_id, token](
                std::optional<caf::response_promise>& rp, caf::actor& store,
                std::uint64_t remote, std::uint64_t instance) {
              if (token != 0)
                self->state.cancel_tokens.erase(token);
              hand_out(self, rp, index, observer, id, store, remote, instance);
            },
            a, std::move(req));
        if (token != 0)
          st.cancel_tokens.emplace(token, std::make_pair(*index, call_id));
        return promise;
      },
      [self](preload_atom a, store_request& req) -> caf::result<caf::ok_atom> {
        take_boot(req.boot);  // a preload of a remote store boots nothing here
        req.boot = 0;
        if (auto ok = validate(req); !ok)
          return to_caf_error(ok.error());
        auto index = owner_peer(self, req.store_id);
        if (!index)
          return index.error();
        req.cancel_token = 0;
        std::uint64_t call_id = 0;
        return ask_owner<caf::ok_atom>(
            self, *index, "preload of store '" + req.store_id + "'", call_id,
            [](std::optional<caf::response_promise>& rp, caf::ok_atom ok) {
              if (rp)
                rp->deliver(ok);
            },
            a, std::move(req));
      },
      [self](inspect_atom a, std::string& store_id) -> caf::result<store_info_msg> {
        auto index = owner_peer(self, store_id);
        if (!index)
          return index.error();
        std::uint64_t call_id = 0;
        return ask_owner<store_info_msg>(
            self, *index, "inspect of store '" + store_id + "'", call_id,
            [](std::optional<caf::response_promise>& rp, store_info_msg& info) {
              if (rp)
                rp->deliver(std::move(info));
            },
            a, std::move(store_id));
      },
      [self](release_atom, std::uint64_t lease) { release_remote(self, lease); },
      [self](clear_atom) {
        // This node's clear(): the uses and preloads waiting for an owner
        // are cancelled, the leases it holds go back to the owners, and the
        // handles and subscriptions through its stand-ins end. The stores
        // stay loaded on their owners for the callers of other nodes. The
        // answer comes once every stand-in took the clear, so that no call
        // made after clear() returned passes one.
        auto& st = self->state;
        for (auto& p : st.peers)
          for (auto i = p.calls.begin(); i != p.calls.end();) {
            if (!i->second.load) {
              ++i;
              continue;
            }
            i->second.promise.deliver(to_caf_error(
                errc::cancelled,
                "a call for a store on node '" + p.member->name + "' was cancelled by clear()"));
            i = p.calls.erase(i);
          }
        st.cancel_tokens.clear();
        for (auto& [id, l] : st.leases)
          if (auto& p = st.peers[l.peer]; p.epoch == l.epoch && p.link.phase() == peer_phase::up)
            self->send(p.registry, release_atom::value, l.remote);
        st.leases.clear();
        auto rp = self->make_response_promise();
        auto left = std::make_shared<std::size_t>(st.stubs.size());
        auto one_done = [rp, left]() mutable {
          if (--*left == 0)
            rp.deliver(caf::ok_atom::value);
        };
        for (auto& [key, s] : st.stubs)
          self->request(s.actor, caf::infinite, clear_atom::value)
              .then([one_done](caf::ok_atom) mutable { one_done(); },
                    [one_done](caf::error&) mutable { one_done(); });  // it ended already
        st.stubs.clear();
        for (auto& [block, o] : st.observers)
          self->demonitor(o.first);
        st.observers.clear();
        if (*left == 0)
          rp.deliver(caf::ok_atom::value);
        return rp;
      },
      [self](cancel_atom, std::uint64_t token) {
        auto& st = self->state;
        auto i = st.cancel_tokens.find(token);
        if (i == st.cancel_tokens.end())
          return;
        auto [index, call] = i->second;
        st.cancel_tokens.erase(i);
        if (auto rp = take_call(st.peers[index], call))
          rp->deliver(to_caf_error(errc::cancelled, "the use of a remote store was aborted"));
      },
      [self](members_atom) {
        auto& st = self->state;
        const auto steady_now = steady::now();
        const auto system_now = std::chrono::system_clock::now();
        std::vector<member_status_msg> out;
        for (std::size_t i = 0; i < st.opts.members.size(); ++i) {
          const bool ours = i == st.self_index;
          const auto since = ours ? st.started : st.peers[i].link.since();
          const auto at = system_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                           steady_now - since);
          out.push_back(member_status_msg{
              st.opts.members[i].name, ours || st.peers[i].link.phase() == peer_phase::up,
              std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch())
                  .count()});
        }
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_cluster(caf::actor_system& sys, const cluster_options& opts,
                         std::shared_ptr<spdlog::logger> log) {
  return sys.spawn(cluster_impl, opts, std::move(log));
}

void publish_cluster(caf::actor_system& sys, const caf::actor& cluster, const caf::actor& registry,
                     const cluster_options& opts) {
  const bool tls = uses_tls(opts);
  if (!sys.has_middleman() || (tls && !sys.has_openssl_manager()))
    throw store_error(errc::invalid_options,
                      "this actor system has no middleman" + std::string{tls ? " or TLS" : ""}
                          + ": call multistore::configure(cfg, cluster_options) before "
                            "constructing it");
  caf::anon_send(cluster, caf::put_atom::value, registry);  // before any hello can arrive
  const auto* me = find_member(opts, opts.self);
  auto port = tls ? caf::openssl::publish(cluster, me->port, me->host.c_str(), true)
                  : sys.middleman().publish(cluster, me->port, me->host.c_str(), true);
  if (!port)
    throw store_error(errc::invalid_options,
                      "node '" + opts.self + "' cannot listen on " + me->host + ":"
                          + std::to_string(me->port) + ": " + sys.render(port.error()));
  // Only a node that listens dials: one that cannot bind its port (another
  // process is that member) must not take the member's place at its peers.
  caf::anon_send(cluster, tick_atom::value);
}

}  // namespace multistore::detail
