#pragma once

// The reference driver of the lifecycle machine, shared by the random walk
// test (tests/core/lifecycle_random_test.cpp, choices from a seeded RNG) and
// the fuzzer (tests/fuzz/lifecycle_fuzz.cpp, choices from the input bytes).
// It plays the registry actor's part: it carries out every effect (loads,
// timers, stops), feeds the consequences back later in an order the choices
// pick, the way a real system might deliver them, and checks the machine
// against its own bookkeeping on every effect and after every step.
//
//     lifecycle_testing::reference_driver<byte_choices> d{in, setup};
//     while (!in.done() && !d.failed()) d.step(pick_operation(in));
//     d.drain();                      // every load completes, shutdown, every store down
//     if (d.failed()) report(d.failure());
//
// Invariants: each call is answered at most once (exactly once by the end,
// unless its observer died); ready answers hand out open instances; a new
// instance of an id loads only after the old one is down; a store is stopped
// only with no lease on it; timers have one live generation per store;
// stats() counters never wrap, go backwards or disagree with what the driver
// has seen; under an open-store limit, loads beyond it wait for a slot, evict
// the least recently used inactive store, and are refused only when nothing
// can be evicted.
//
// Plain C++ (no Catch2): the fuzzer includes it too.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "multistore/lifecycle.hpp"

namespace lifecycle_testing {

namespace lc = multistore::lifecycle;
using multistore::errc;
using multistore::gc_duration;
using multistore::gc_never;
using multistore::store_state;

/// What the driver can do in one step; each consumes its arguments from the
/// choices (see reference_driver::step).
enum class operation : std::uint8_t {
  acquire,              ///< id, schema, observer slot, gc_time
  preload,              ///< id, schema, gc_time
  release,              ///< a live lease: index
  release_unknown,      ///< an ended or unknown lease: which, index
  observer_down,        ///< observer slot 1..3
  cancel,               ///< which, index
  load_succeeds,        ///< index of a load in flight
  load_fails,           ///< index of a load in flight
  store_down,           ///< a requested stop completes: index
  store_dies,           ///< an open store dies on its own: index
  crash_while_loading,  ///< a loading store dies: index
  repeat_completion,    ///< a completion repeats: index, kind
  stale_fire,           ///< a stale gc_fired: which, index, id
  advance,              ///< time passes: amount, late
  clear,
  shutdown,
};

/// How many operations there are, for code that picks one.
inline constexpr std::size_t operation_count = static_cast<std::size_t>(operation::shutdown) + 1;

/// What one run went through, to prove a walk reaches the interesting states.
struct coverage {
  std::uint64_t disposals = 0;
  std::uint64_t load_failures = 0;
  std::uint64_t reloads_after_close = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t cancels = 0;
  std::uint64_t clears_done = 0;
  std::uint64_t rearms = 0;
  std::uint64_t deaths = 0;
  std::uint64_t evictions = 0;
  std::uint64_t refusals = 0;  ///< loads refused at the open-store limit
};

/// The world a driver runs in.
struct reference_setup {
  std::vector<std::string> ids{"a", "b", "c"};  ///< the store ids it picks from
  lc::limits limits;
  lc::instant epoch{0};  ///< the clock at the start; only differences matter
  /// A broken invariant prints and aborts at once (so a fuzzer saves the
  /// input) instead of being kept for failure().
  bool abort_on_failure = false;
  /// Print every event and its effects to stderr.
  bool trace = false;
};

/// The gc_time of a call is one of these.
inline const std::array<gc_duration, 9> reference_gc_times{
    gc_duration{0},
    gc_duration{1},
    gc_duration{5},
    gc_duration{100},
    gc_duration{60'000},
    gc_duration{lc::max_timer_delay.count() + 1},  // one re-arm
    gc_duration{std::int64_t{1} << 40},                 // many re-arms
    gc_never - gc_duration{1},                     // finite, saturates every deadline
    gc_never,
};

inline lc::instant saturating_add(lc::instant t, gc_duration d) {
  const auto top = lc::instant::max().count();
  if (d.count() > 0 && t.count() > top - d.count())
    return lc::instant::max();
  return t + d;
}

/// One line naming the event and its fields, for traces.
inline std::string describe(const lc::event& ev) {
  std::string out{lc::to_string(ev)};
  auto field = [&](const char* name, const auto& value) {
    out += ' ';
    out += name;
    out += '=';
    if constexpr (std::is_convertible_v<decltype(value), std::string_view>)
      out += value;
    else if constexpr (std::is_same_v<std::decay_t<decltype(value)>, gc_duration>)
      out += std::to_string(value.count()) + "ms";
    else
      out += std::to_string(value);
  };
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (requires { e.request; }) field("request", e.request);
        if constexpr (requires { e.store_id; }) field("id", e.store_id);
        if constexpr (requires { e.schema; }) field("schema", e.schema);
        if constexpr (requires { e.observer; }) field("observer", e.observer);
        if constexpr (requires { e.gc_time; }) field("gc", e.gc_time);
        if constexpr (requires { e.instance; }) field("instance", e.instance);
        if constexpr (requires { e.lease; }) field("lease", e.lease);
        if constexpr (requires { e.generation; }) field("generation", e.generation);
        if constexpr (std::is_same_v<E, lc::load_failed>) field("reason", e.reason.message);
      },
      ev);
  return out;
}

/// One line naming the effect and its fields, for traces.
inline std::string describe(const lc::effect& fx) {
  std::string out{lc::to_string(fx)};
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (requires { e.request; }) out += " request=" + std::to_string(e.request);
        if constexpr (requires { e.store_id; }) out += " id=" + e.store_id;
        if constexpr (requires { e.instance; }) out += " instance=" + std::to_string(e.instance);
        if constexpr (requires { e.lease; }) out += " lease=" + std::to_string(e.lease);
        if constexpr (requires { e.options_of; })
          out += " options_of=" + std::to_string(e.options_of);
        if constexpr (requires { e.generation; })
          out += " generation=" + std::to_string(e.generation);
        if constexpr (requires { e.delay; }) out += " delay=" + std::to_string(e.delay.count());
        if constexpr (requires { e.observer; }) out += " observer=" + std::to_string(e.observer);
        if constexpr (std::is_same_v<E, lc::answer_error>)
          out += " " + std::string{multistore::to_string(e.reason.code)} + " '" + e.reason.message
                 + "'";
      },
      fx);
  return out;
}

/// Drives one machine, checking as it goes. `Choices` supplies every choice:
/// `std::uint8_t byte()` and `std::size_t below(std::size_t n)` (a value in
/// [0, n), n >= 1).
template <class Choices>
class reference_driver {
 public:
  reference_driver(Choices& in, reference_setup setup)
      : in_(in),
        setup_(std::move(setup)),
        m_(setup_.limits),
        lru_stamp_(setup_.ids.size(), 0),
        now_(setup_.epoch) {}

  /// One operation, then the invariants.
  void step(operation op) {
    ++step_;
    switch (op) {
      case operation::acquire: do_acquire(); break;
      case operation::preload: do_preload(); break;
      case operation::release: do_release(); break;
      case operation::release_unknown: do_release_unknown(); break;
      case operation::observer_down: do_observer_down(); break;
      case operation::cancel: do_cancel(); break;
      case operation::load_succeeds: do_complete_load(true); break;
      case operation::load_fails: do_complete_load(false); break;
      case operation::store_down: do_store_down(); break;
      case operation::store_dies: do_store_dies(); break;
      case operation::crash_while_loading: do_crash_while_loading(); break;
      case operation::repeat_completion: do_repeat_completion(); break;
      case operation::stale_fire: do_stale_fire(); break;
      case operation::advance: do_advance(); break;
      case operation::clear: do_close(false); break;
      case operation::shutdown: do_close(true); break;
    }
    check();
  }

  /// Every load completes, the machine shuts down, every store reports down;
  /// then every call must have had exactly one answer.
  void drain() {
    if (failed())
      return;
    ++step_;
    for (auto i : alive_where([](const instance& r) { return r.load_pending; })) {
      auto& rec = instances_[i];
      rec.load_pending = false;
      rec.loaded = true;
      send(lc::load_succeeded{rec.id, i});
    }
    check();
    do_close(true);
    check();
    for (int round = 0; round < 8; ++round) {
      auto alive = alive_where([](const instance&) { return true; });
      if (alive.empty())
        break;
      for (auto i : alive) {
        require(instances_[i].stop_requested, "shutdown left a store open");
        const std::string id = instances_[i].id;
        mark_down(i);
        send(lc::store_down{id, i});
        require(count<lc::start_load>() == 0, "a load started after shutdown");
      }
      check();
    }
    require(alive_where([](const instance&) { return true; }).empty(),
            "stores still alive after shutdown");
    const auto r = new_call(call_kind::close, "", 0);
    send(lc::clear{r});
    require(count<lc::answer_done>() == 1, "a clear of an empty machine was not answered at once");
    for (const auto& c : calls_)
      if (&c != &calls_.front())
        require(c.answers == (c.dropped ? 0 : 1), "a call was not answered exactly once");
    const auto s = m_.stats();
    require(s.loading + s.active + s.inactive + s.closing + s.leases + s.waiting
                    + s.pending_timers
                == 0,
            "state left after shutdown");
    for (const auto& [i, rec] : instances_)
      require(rec.down && !rec.load_pending, "an instance neither down nor completed");
  }

  bool failed() const noexcept { return !failure_.empty(); }
  /// The first broken invariant, "step N: what"; empty while none.
  const std::string& failure() const noexcept { return failure_; }
  const coverage& covered() const noexcept { return coverage_; }

 private:
  enum class call_kind : std::uint8_t { acquire, preload, close };

  /// One call the driver made: acquire, preload, or clear/shutdown (`close`).
  struct call {
    call_kind kind = call_kind::acquire;
    std::string id;
    lc::observer_id observer = 0;
    gc_duration gc_time{0};
    int answers = 0;
    bool dropped = false;  ///< its observer died while it waited: never answered
    /// For a close: the instances not down when it was made.
    std::vector<lc::instance_id> awaited;
  };

  /// One instance as the driver sees it.
  struct instance {
    std::string id;
    bool load_pending = true;  ///< started, completion not reported yet
    bool loaded = false;
    bool stop_requested = false;
    bool down = false;
    /// The longest gc_time of the calls handed this instance: a floor for its gc_time.
    gc_duration handed_gc{0};

    bool open() const { return loaded && !stop_requested && !down; }
  };

  struct lease {
    std::string id;
    lc::observer_id observer = 0;
    lc::instance_id instance = 0;
  };

  /// A timer the driver armed and has not fired (stale ones included).
  struct timer {
    std::string id;
    std::uint64_t generation = 0;
    lc::instant due{0};
    lc::instance_id instance = 0;
  };

  /// What the limit checks compare across one event.
  struct phases {
    std::vector<store_state> state;
    std::vector<lc::instance_id> instance;
    std::uint64_t evictions = 0;
  };

  static constexpr std::size_t observer_slots = 4;  // slot 0 is "no observer"
  /// Counters a step could never legitimately reach: a smaller value gone
  /// below zero shows up as one of these.
  static constexpr std::uint64_t wrapped = std::uint64_t{1} << 32;

  Choices& in_;
  reference_setup setup_;
  lc::machine m_;
  bool refused_ = false;  ///< the current event refused a load for the limit
  std::uint64_t sends_ = 0;
  std::vector<std::uint64_t> lru_stamp_;  ///< by id: when last used while inactive
  lc::instant now_{0};
  std::size_t step_ = 0;
  bool closed_ = false;
  std::string failure_;
  coverage coverage_;

  std::vector<call> calls_{call{}};  ///< by request id; 0 unused
  std::set<lc::request_id> waiting_;  ///< acquire/preload, neither answered nor dropped
  std::map<lc::lease_id, lease> leases_;
  std::vector<lc::lease_id> ended_leases_;
  std::set<lc::lease_id> seen_leases_;
  std::map<lc::instance_id, instance> instances_;
  std::map<std::string, lc::instance_id> current_;
  std::map<std::string, std::uint64_t> loads_by_id_;
  std::uint64_t loads_ = 0;
  std::vector<timer> timers_;
  std::vector<std::uint64_t> fired_;
  std::set<std::uint64_t> generations_;
  std::array<std::uint64_t, observer_slots> observer_generation_{};
  std::set<lc::observer_id> monitored_;
  multistore::registry_stats last_stats_;

  lc::effects fx_;
  const lc::event* event_ = nullptr;

  void require(bool ok, const char* what) {
    if (ok || failed())
      return;
    failure_ = "step " + std::to_string(step_) + ": " + what;
    if (setup_.abort_on_failure) {
      std::fprintf(stderr, "lifecycle invariant broken at %s\n", failure_.c_str());
      std::abort();
    }
  }

  bool unlimited() const { return setup_.limits.max_open == 0; }

  // -- sending events --------------------------------------------------------

  void send(const lc::event& ev) {
    fx_.clear();
    event_ = &ev;
    const auto before = snapshot();
    refused_ = false;
    m_.handle(ev, now_, fx_);
    if (setup_.trace) {
      std::fprintf(stderr, "[%zu] t=%lld %s\n", step_, static_cast<long long>(now_.count()),
                   describe(ev).c_str());
      for (const auto& e : fx_)
        std::fprintf(stderr, "      -> %s\n", describe(e).c_str());
    }
    for (const auto& e : fx_)
      std::visit([&](const auto& x) { on(x); }, e);
    check_limit(ev, before);
    event_ = nullptr;
  }

  template <class T>
  std::size_t count() const {
    return static_cast<std::size_t>(std::count_if(fx_.begin(), fx_.end(), [](const auto& e) {
      return std::holds_alternative<T>(e);
    }));
  }

  // -- the open-store limit ------------------------------------------------------

  phases snapshot() {
    phases p;
    for (const auto& id : setup_.ids) {
      p.state.push_back(m_.info(id, now_).state);
      p.instance.push_back(current_[id]);
    }
    p.evictions = m_.stats().evictions;
    return p;
  }

  std::size_t index_of(std::string_view id) const {
    return static_cast<std::size_t>(std::find(setup_.ids.begin(), setup_.ids.end(), id)
                                    - setup_.ids.begin());
  }

  /// Loads beyond the limit wait for a slot, evict the least recently used
  /// inactive store, and are refused only when nothing can be evicted.
  void check_limit(const lc::event& ev, const phases& before) {
    ++sends_;
    const auto after = snapshot();
    const auto s = m_.stats();
    auto stamps_before = lru_stamp_;
    // Recency as the machine defines it: becoming inactive, or a preload
    // answered while inactive.
    for (std::size_t k = 0; k < setup_.ids.size(); ++k) {
      const bool stayed = before.state[k] == store_state::inactive
                          && before.instance[k] == after.instance[k];
      if (after.state[k] == store_state::inactive && !stayed)
        lru_stamp_[k] = sends_;
    }
    if (const auto* p = std::get_if<lc::preload>(&ev); p && count<lc::answer_ready>() == 1) {
      const auto k = index_of(p->store_id);
      if (before.state[k] == store_state::inactive)
        lru_stamp_[k] = sends_;
    }

    if (refused_)
      require(s.inactive == 0, "a load was refused while an inactive store could be evicted");
    if (s.queued > 0) {
      std::size_t alive = 0;
      for (const auto& [i, rec] : instances_)
        alive += !rec.down;
      require(!unlimited() && alive == setup_.limits.max_open,
              "a load waits for a slot while one is free");
      require(s.queued <= s.closing,
              "more loads wait for a slot than closing stores will free, with none evicted");
    }
    if (after.evictions == before.evictions)
      return;
    require(!unlimited(), "an eviction without a limit");
    if (std::holds_alternative<lc::gc_fired>(ev) || std::holds_alternative<lc::clear>(ev)
        || std::holds_alternative<lc::shutdown>(ev))
      return;
    for (const auto& e : fx_) {
      const auto* stop = std::get_if<lc::stop_store>(&e);
      if (stop == nullptr)
        continue;
      const auto x = index_of(stop->store_id);
      if (before.state[x] != store_state::inactive || before.instance[x] != stop->instance)
        continue;  // became inactive during this event: its stamp is the newest anyway
      for (std::size_t k = 0; k < setup_.ids.size(); ++k)
        if (after.state[k] == store_state::inactive)
          require(stamps_before[x] <= lru_stamp_[k],
                  "an eviction disposed a store used more recently than one it kept");
    }
  }

  // -- effects ---------------------------------------------------------------

  void on(const lc::start_load& s) {
    require(s.instance != 0 && !instances_.contains(s.instance),
            "start_load with instance 0 or a used instance id");
    for (const auto& [i, rec] : instances_)
      require(rec.id != s.store_id || rec.down,
              "start_load before the id's previous instance was down");
    require(s.options_of < calls_.size() && waiting_.contains(s.options_of)
                && calls_[s.options_of].id == s.store_id,
            "start_load options_of is not a call waiting for that store");
    if (loads_by_id_[s.store_id] > 0)
      ++coverage_.reloads_after_close;
    instances_[s.instance] = instance{s.store_id};
    current_[s.store_id] = s.instance;
    ++loads_by_id_[s.store_id];
    ++loads_;
  }

  call& answered(lc::request_id r) {
    static call nowhere;
    require(r != 0 && r < calls_.size(), "an answer for a request never made");
    if (r == 0 || r >= calls_.size())
      return nowhere = call{};
    call& c = calls_[r];
    require(c.answers == 0, "a request answered twice");
    require(!c.dropped, "an answer for a call whose observer died");
    ++c.answers;
    waiting_.erase(r);
    return c;
  }

  void on(const lc::answer_ready& a) {
    call& c = answered(a.request);
    require(c.kind != call_kind::close, "answer_ready for a clear or shutdown");
    require(c.id == a.store_id, "answer_ready for another store");
    auto it = instances_.find(a.instance);
    require(it != instances_.end() && it->second.open() && current_[a.store_id] == a.instance,
            "answer_ready hands out an instance that is not open");
    if (it == instances_.end())
      return;
    it->second.handed_gc = std::max(it->second.handed_gc, c.gc_time);
    if (c.kind == call_kind::preload) {
      require(a.lease == 0, "a preload answered with a lease");
      return;
    }
    require(a.lease != 0 && seen_leases_.insert(a.lease).second,
            "an acquire answered with lease 0 or a used lease id");
    leases_[a.lease] = lease{a.store_id, c.observer, a.instance};
  }

  void on(const lc::answer_error& a) {
    call& c = answered(a.request);
    require(c.kind != call_kind::close, "answer_error for a clear or shutdown");
    const auto code = a.reason.code;
    require(code == errc::schema_mismatch || code == errc::load_failed || code == errc::cancelled
                || code == errc::registry_closed,
            "answer_error with an undocumented code");
    require(!a.reason.message.empty(), "answer_error without a message");
    if (code == errc::schema_mismatch)
      ++coverage_.mismatches;
    if (code == errc::cancelled)
      ++coverage_.cancels;
    // load_failed for an id with no instance: refused under the limit, not a
    // failed or crashed load of its own.
    if (code == errc::load_failed) {
      bool own = false;
      for (const auto& [i, rec] : instances_)
        own = own || (rec.id == c.id && !rec.down);
      if (const auto* d = std::get_if<lc::store_down>(event_))
        own = own || d->store_id == c.id;
      if (!own) {
        refused_ = true;
        ++coverage_.refusals;
      }
    }
  }

  void on(const lc::answer_done& d) {
    call& c = answered(d.request);
    require(c.kind == call_kind::close, "answer_done for a call that is not a clear");
    for (auto i : c.awaited)
      require(instances_.at(i).down, "clear answered before every store it closed was down");
    ++coverage_.clears_done;
  }

  void on(const lc::arm_timer& t) {
    require(t.delay > gc_duration{0} && t.delay <= lc::max_timer_delay,
            "arm_timer delay out of (0, max_timer_delay]");
    require(t.generation != 0 && generations_.insert(t.generation).second,
            "arm_timer generation 0 or reused");
    const auto inst = current_[t.store_id];
    require(instances_.contains(inst) && instances_[inst].open(),
            "arm_timer for a store that is not open");
    for (const auto& p : timers_)
      require(p.instance != inst, "a second pending timer for one store");
    if (std::holds_alternative<lc::gc_fired>(*event_))
      ++coverage_.rearms;
    timers_.push_back(timer{t.store_id, t.generation, saturating_add(now_, t.delay), inst});
  }

  void on(const lc::stop_store& s) {
    auto it = instances_.find(s.instance);
    require(it != instances_.end() && it->second.id == s.store_id,
            "stop_store for an unknown instance");
    if (it == instances_.end())
      return;
    auto& rec = it->second;
    require(!rec.stop_requested && !rec.down, "stop_store twice or after store_down");
    require(current_[s.store_id] == s.instance, "stop_store for a stale instance");
    for (const auto& [id, l] : leases_)
      require(l.instance != s.instance, "stop_store for a store a lease still holds");
    for (auto r : waiting_)
      require(calls_[r].kind != call_kind::acquire || calls_[r].id != s.store_id,
              "stop_store for a store an acquire still waits for");
    rec.stop_requested = true;
  }

  void on(const lc::monitor_observer& o) {
    require(o.observer != 0, "monitor_observer for observer 0");
    require(std::holds_alternative<lc::acquire>(*event_),
            "monitor_observer not from an acquire");
    require(monitored_.insert(o.observer).second, "an observer monitored twice");
  }

  // -- operations --------------------------------------------------------------

  lc::request_id new_call(call_kind kind, std::string id, lc::observer_id observer,
                               gc_duration gc_time = gc_duration{0}) {
    calls_.push_back(call{kind, std::move(id), observer, gc_time});
    const auto r = calls_.size() - 1;
    if (kind != call_kind::close)
      waiting_.insert(r);
    return r;
  }

  std::string pick_id() { return setup_.ids[in_.below(setup_.ids.size())]; }
  std::string pick_schema() { return in_.below(8) == 0 ? "other" : "s"; }
  gc_duration pick_gc() { return reference_gc_times[in_.below(reference_gc_times.size())]; }

  lc::observer_id observer_in(std::size_t slot) const {
    return slot == 0 ? 0 : slot + observer_slots * observer_generation_[slot];
  }

  void refused_after_shutdown() {
    if (closed_)
      require(fx_.size() == 1 && std::holds_alternative<lc::answer_error>(fx_[0])
                  && std::get<lc::answer_error>(fx_[0]).reason.code == errc::registry_closed,
              "a call after shutdown was not refused with registry_closed");
  }

  void do_acquire() {
    auto id = pick_id();
    auto schema = pick_schema();
    const auto observer = observer_in(in_.below(observer_slots));
    const auto gc = pick_gc();
    const auto r = new_call(call_kind::acquire, id, observer, gc);
    send(lc::acquire{r, id, schema, observer, gc});
    refused_after_shutdown();
  }

  void do_preload() {
    auto id = pick_id();
    auto schema = pick_schema();
    const auto gc = pick_gc();
    const auto r = new_call(call_kind::preload, id, 0, gc);
    send(lc::preload{r, id, schema, gc});
    refused_after_shutdown();
  }

  void do_release() {
    if (leases_.empty())
      return;
    auto it = std::next(leases_.begin(), static_cast<std::ptrdiff_t>(in_.below(leases_.size())));
    const auto id = it->first;
    const auto before = m_.info(it->second.id, now_);
    ended_leases_.push_back(id);
    leases_.erase(it);
    send(lc::release{id});
    require(count<lc::answer_ready>() + count<lc::answer_error>() + count<lc::start_load>() == 0,
            "a release answered a call or started a load");
    if (count<lc::stop_store>() > 0 && unlimited())
      require(before.gc_time == gc_duration{0} && before.observers == 1,
              "a release disposed a store with gc_time > 0 or other observers");
  }

  void do_release_unknown() {
    lc::lease_id id = 0;
    if (!ended_leases_.empty() && in_.below(4) != 0)
      id = ended_leases_[in_.below(ended_leases_.size())];
    else
      id = in_.byte();  // 0, an ended one, a live one's neighbour...
    if (leases_.contains(id))
      return;
    send(lc::release{id});
    require(fx_.empty(), "releasing an ended or unknown lease had effects");
  }

  void do_observer_down() {
    const auto slot = 1 + in_.below(observer_slots - 1);
    const auto observer = observer_in(slot);
    ++observer_generation_[slot];  // a new actor takes the slot
    std::erase_if(leases_, [&](const auto& kv) {
      if (kv.second.observer != observer)
        return false;
      ended_leases_.push_back(kv.first);
      return true;
    });
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      call& c = calls_[*it];
      if (c.kind == call_kind::acquire && c.observer == observer) {
        c.dropped = true;
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    monitored_.erase(observer);
    send(lc::observer_down{observer});
    require(count<lc::answer_ready>() + count<lc::answer_error>() + count<lc::start_load>() == 0,
            "observer_down answered a call or started a load");
  }

  void do_cancel() {
    lc::request_id r = 0;
    if (!waiting_.empty() && in_.below(4) != 0)
      r = *std::next(waiting_.begin(), static_cast<std::ptrdiff_t>(in_.below(waiting_.size())));
    else
      r = in_.below(calls_.size());
    const bool was_waiting = waiting_.contains(r);
    send(lc::cancel_wait{r});
    if (!was_waiting) {
      require(fx_.empty(), "cancelling a call that is not waiting had effects");
      return;
    }
    require(calls_[r].answers == 1, "a cancelled call was not answered");
    require(fx_.size() == 1 && std::holds_alternative<lc::answer_error>(fx_[0])
                && std::get<lc::answer_error>(fx_[0]).request == r
                && std::get<lc::answer_error>(fx_[0]).reason.code == errc::cancelled,
            "a cancelled call was not answered cancelled, or other effects came with it");
  }

  /// Instances not down whose record satisfies `pred`.
  template <class Pred>
  std::vector<lc::instance_id> alive_where(Pred pred) const {
    std::vector<lc::instance_id> found;
    for (const auto& [i, rec] : instances_)
      if (!rec.down && pred(rec))
        found.push_back(i);
    return found;
  }

  template <class Pred>
  std::optional<lc::instance_id> pick_alive(Pred pred) {
    auto found = alive_where(pred);
    if (found.empty())
      return std::nullopt;
    return found[in_.below(found.size())];
  }

  std::size_t waiting_for(const std::string& id) const {
    std::size_t n = 0;
    for (auto r : waiting_)
      n += calls_[r].id == id;
    return n;
  }

  /// A load finishes, including one the machine stopped meanwhile (the
  /// driver's abort may lose the race with the load).
  void do_complete_load(bool succeeded) {
    auto inst = pick_alive([](const instance& r) { return r.load_pending; });
    if (!inst)
      return;
    auto& rec = instances_[*inst];
    const std::string id = rec.id;
    const bool stopped = rec.stop_requested;
    const auto before = m_.info(id, now_);
    rec.load_pending = false;
    const std::string why = "the load failed";
    if (succeeded) {
      rec.loaded = true;
      send(lc::load_succeeded{id, *inst});
    } else {
      send(lc::load_failed{id, *inst, {errc::load_failed, why}});
    }
    if (stopped) {
      require(fx_.empty(), "completing the load of a stopped instance had effects");
      return;
    }
    require(waiting_for(id) == 0, "a finished load left callers of its store waiting");
    if (succeeded) {
      if (count<lc::stop_store>() > 0 && unlimited())
        require(before.gc_time == gc_duration{0} && before.observers == 0,
                "a load disposed its store at once with gc_time > 0 or observers");
      return;
    }
    ++coverage_.load_failures;
    require(count<lc::stop_store>() == 1 && count<lc::answer_ready>() == 0,
            "a failed load was not stopped once, or answered ready");
    for (const auto& e : fx_)
      if (const auto* err = std::get_if<lc::answer_error>(&e))
        require(err->reason.message == why, "a load's error was not passed to its waiters");
  }

  void mark_down(lc::instance_id i) {
    auto& rec = instances_.at(i);
    rec.load_pending = false;  // a load in flight is aborted
    rec.down = true;
  }

  /// The driver reports a stop it was asked for as done.
  void do_store_down() {
    auto inst = pick_alive([](const instance& r) { return r.stop_requested; });
    if (!inst)
      return;
    const std::string id = instances_[*inst].id;
    mark_down(*inst);
    send(lc::store_down{id, *inst});
    require(count<lc::answer_ready>() == 0, "a store going down answered ready");
    if (unlimited())
      require(count<lc::answer_error>() == 0, "a closed store going down answered a call");
  }

  /// An open store dies on its own: its leases end with it.
  void do_store_dies() {
    auto inst = pick_alive([](const instance& r) { return r.open(); });
    if (!inst)
      return;
    const std::string id = instances_[*inst].id;
    mark_down(*inst);
    std::erase_if(leases_, [&](const auto& kv) {
      if (kv.second.instance != *inst)
        return false;
      ended_leases_.push_back(kv.first);
      return true;
    });
    ++coverage_.deaths;
    send(lc::store_down{id, *inst});
    require(count<lc::answer_ready>() + count<lc::answer_error>() == 0,
            "a store dying on its own answered a call");
    if (unlimited())
      require(fx_.empty(), "a store dying on its own had effects");
  }

  /// A store dies while its load is in flight: its callers get load_failed.
  void do_crash_while_loading() {
    auto inst =
        pick_alive([](const instance& r) { return r.load_pending && !r.stop_requested; });
    if (!inst)
      return;
    const std::string id = instances_[*inst].id;
    const auto waiters = waiting_for(id);
    mark_down(*inst);
    send(lc::store_down{id, *inst});
    require(count<lc::answer_error>() == waiters && count<lc::answer_ready>() == 0,
            "a crash while loading did not fail exactly its waiting callers");
    if (unlimited())
      require(fx_.size() == waiters, "a crash while loading had other effects");
  }

  /// A completion for an instance whose completion was already reported.
  void do_repeat_completion() {
    std::vector<lc::instance_id> done;
    for (const auto& [i, rec] : instances_)
      if (!rec.load_pending)
        done.push_back(i);
    if (done.empty())
      return;
    const auto inst = done[in_.below(done.size())];
    const std::string id = instances_[inst].id;
    if (in_.below(2) == 0)
      send(lc::load_succeeded{id, inst});
    else
      send(lc::load_failed{id, inst, {errc::load_failed, "late"}});
    require(fx_.empty(), "a repeated load completion had effects");
  }

  void do_stale_fire() {
    std::uint64_t generation = 0;
    if (!fired_.empty() && in_.below(4) != 0)
      generation = fired_[in_.below(fired_.size())];
    else
      generation = in_.byte();
    for (const auto& t : timers_)
      if (t.generation == generation)
        return;  // not stale: it fires when its time comes
    send(lc::gc_fired{pick_id(), generation});
    require(fx_.empty(), "a stale gc_fired had effects");
  }

  /// Time passes; timers due by then fire, on time or all late at the end.
  void do_advance() {
    const auto b = in_.byte();
    const std::int64_t n = b >> 2;
    gc_duration delta{0};
    switch (b & 3) {
      case 0: delta = gc_duration{n}; break;
      case 1: delta = gc_duration{n * 1000}; break;
      case 2: delta = gc_duration{n << 26}; break;  // days: past max_timer_delay
      default: delta = gc_duration{std::int64_t{1} << (20 + n % 23)}; break;  // up to 139 years
    }
    const auto target = saturating_add(now_, delta);
    const bool late = in_.below(2) == 0;
    if (late)
      now_ = target;
    for (int fires = 0; fires < 64; ++fires) {
      auto due = std::min_element(timers_.begin(), timers_.end(),
                                  [](const timer& x, const timer& y) { return x.due < y.due; });
      if (due == timers_.end() || due->due > target)
        break;
      const timer t = *due;
      timers_.erase(due);
      now_ = std::max(now_, t.due);
      const auto before = m_.info(t.id, now_);
      fired_.push_back(t.generation);
      send(lc::gc_fired{t.id, t.generation});
      if (count<lc::stop_store>() > 0)
        require(before.state == store_state::inactive && before.gc_remaining == gc_duration{0},
                "GC disposed a store before its deadline");
    }
    now_ = std::max(now_, target);
  }

  void do_close(bool shutdown) {
    for (const auto& [id, l] : leases_)
      ended_leases_.push_back(id);
    leases_.clear();
    const auto r = new_call(call_kind::close, "", 0);
    calls_[r].awaited = alive_where([](const instance&) { return true; });
    const auto waiting = waiting_.size();
    if (shutdown) {
      closed_ = true;
      send(lc::shutdown{r});
      require(m_.closed(), "shutdown did not close the machine");
    } else {
      send(lc::clear{r});
    }
    require(waiting_.empty() && count<lc::answer_error>() == waiting,
            "clear did not answer exactly the waiting calls");
    for (const auto& e : fx_)
      if (const auto* err = std::get_if<lc::answer_error>(&e))
        require(err->reason.code == (shutdown ? errc::registry_closed : errc::cancelled),
                "clear answered a waiting call with the wrong code");
    require(count<lc::start_load>() == 0, "clear started a load");
  }

  // -- invariants --------------------------------------------------------------

  bool keeps_load_counts() const { return setup_.limits.id_history >= setup_.ids.size(); }

  void check() {
    if (failed())
      return;
    const auto s = m_.stats();
    for (auto v : {s.loading, s.active, s.inactive, s.closing, s.leases, s.waiting,
                   s.pending_timers})
      require(v < wrapped, "a stats() gauge wrapped below zero");
    for (auto v : {s.loads, s.load_failures, s.disposals})
      require(v < wrapped, "a stats() counter wrapped");
    require(s.loads >= last_stats_.loads && s.load_failures >= last_stats_.load_failures
                && s.disposals >= last_stats_.disposals,
            "a stats() counter went backwards");
    require(s.loads == loads_, "stats().loads differs from the loads started");

    std::size_t acquires_waiting = 0;
    for (auto r : waiting_)
      acquires_waiting += calls_[r].kind == call_kind::acquire;
    require(s.waiting == waiting_.size(), "stats().waiting differs from the calls waiting");
    require(s.leases == leases_.size() + acquires_waiting,
            "stats().leases differs from the leases held and acquires waiting");

    std::size_t active = 0, inactive = 0, loading = 0;
    std::uint64_t loads = 0;
    for (const auto& id : setup_.ids) {
      const auto info = m_.info(id, now_);
      std::size_t expected = 0;
      for (const auto& [lid, l] : leases_)
        expected += l.id == id;
      for (auto r : waiting_)
        expected += calls_[r].kind == call_kind::acquire && calls_[r].id == id;
      require(info.observers == expected, "info().observers differs from the leases held");
      if (keeps_load_counts())
        require(info.loads == loads_by_id_[id], "info().loads differs from the loads started");
      loads += info.loads;
      const auto inst = current_[id];
      const bool open = instances_.contains(inst) && instances_[inst].open();
      std::size_t timers = 0;
      for (const auto& t : timers_)
        if (t.instance == inst && open) {
          ++timers;
          require(!info.gc_remaining || t.due <= saturating_add(now_, *info.gc_remaining),
                  "a GC timer fires after the store's deadline");
        }
      if (open) {
        // The longest gc_time wins, gc_never included.
        require(info.gc_time >= instances_[inst].handed_gc,
                "a loaded store's gc_time is below a call it was handed to");
        require(std::find(reference_gc_times.begin(), reference_gc_times.end(), info.gc_time)
                    != reference_gc_times.end(),
                "a loaded store's gc_time is no call's gc_time");
      }
      switch (info.state) {
        case store_state::active:
          ++active;
          require(info.observers > 0, "an active store without observers");
          require(open, "an active store whose instance is not open");
          require(!info.gc_remaining, "an active store with a GC deadline");
          break;
        case store_state::inactive:
          ++inactive;
          require(info.observers == 0, "an inactive store with observers");
          require(open, "an inactive store whose instance is not open");
          require(info.gc_time > gc_duration{0}, "an inactive store with gc_time 0");
          require(info.gc_remaining.has_value() == (info.gc_time != gc_never),
                  "an inactive store's GC deadline does not match its gc_time");
          if (info.gc_time != gc_never)
            require(timers == 1, "an inactive store without exactly one pending timer");
          break;
        case store_state::loading:
          ++loading;
          require(!info.gc_remaining, "a loading store with a GC deadline");
          break;
        case store_state::disposed:
          require(info.observers == 0 && info.gc_time == gc_duration{0} && !info.gc_remaining,
                  "a disposed store still held");
          break;
      }
    }
    require(s.active == active && s.inactive == inactive,
            "stats() phase counts differ from info()");
    require(loading >= s.loading && loading <= s.loading + s.closing,
            "stats().loading differs from info()");
    if (keeps_load_counts())
      require(loads == s.loads, "stats().loads differs from the loads of every id");

    std::size_t in_flight = 0, closing = 0, open = 0, live_timers = 0, alive = 0;
    for (const auto& [i, rec] : instances_) {
      if (rec.down)
        continue;
      ++alive;
      if (rec.stop_requested)
        ++closing;
      else if (rec.load_pending)
        ++in_flight;
      else if (rec.loaded)
        ++open;
    }
    for (const auto& t : timers_)
      live_timers += current_[t.id] == t.instance && instances_[t.instance].open();
    require(s.queued < wrapped && s.evictions < wrapped, "a stats() limit counter wrapped");
    require(s.evictions >= last_stats_.evictions && s.evictions <= s.disposals,
            "stats().evictions went backwards or exceeds the disposals");
    if (!unlimited())
      require(alive <= setup_.limits.max_open, "more instances alive than the open-store limit");
    require(s.closing == closing, "stats().closing differs from the stores asked to stop");
    require(s.loading == in_flight + s.queued,
            "stats().loading differs from the loads in flight and queued");
    require(s.active + s.inactive == open, "stats() open stores differ from the driver's");
    require(s.pending_timers == live_timers, "stats().pending_timers differs from live timers");
    // A re-acquired store keeps its consumed-on-fire timer: bounded by the
    // open stores, not by the inactive ones.
    require(s.pending_timers <= s.active + s.inactive, "more pending timers than open stores");
    coverage_.disposals = std::max(coverage_.disposals, s.disposals);
    coverage_.evictions = std::max(coverage_.evictions, s.evictions);
    last_stats_ = s;
  }
};

}  // namespace lifecycle_testing
