#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "lifecycle_rig.hpp"  // lc, the names of the lifecycle tests

namespace {

const std::array<std::string, 4> store_ids{"s0", "s1", "s2", "s3"};
const std::array<gc_duration, 6> gc_times{
    0ms, 5ms, 20ms, 100ms, gc_never, gc_duration{std::int64_t{1} << 33}};

enum class call_kind : std::uint8_t { acquire, preload, clear };

struct call {
  call_kind kind = call_kind::acquire;
  std::string id;
  lc::observer_id observer = 0;
  int answers = 0;
  bool dropped = false;  ///< its observer died while it waited
};

/// One instance as the driver sees it: a load in flight, an open store, a
/// store asked to stop, a closed store.
struct instance_rec {
  std::string id;
  bool load_pending = true;
  bool loaded = false;
  bool stop_requested = false;
  bool down = false;
};

struct timer_rec {
  std::string id;
  std::uint64_t generation = 0;
  lc::instant at{0};
  lc::instance_id instance = 0;
};

struct lease_rec {
  std::string id;
  lc::observer_id observer = 0;
  lc::instance_id instance = 0;
};

/// What one run went through, to prove the walk reaches the interesting states.
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

/// A driver that carries out the machine's effects the way the CAF registry
/// does (loads, timers, stores), makes random choices where the world could
/// go either way, and checks the machine against its own bookkeeping after
/// every step.
class simulation {
 public:
  /// Under an open-store limit an event may also evict or start another
  /// store's load, so the checks that say "this event touched nothing else"
  /// apply only without one.
  simulation(std::uint64_t seed, std::size_t id_count, lc::limits bounds = {})
      : rng_(seed), id_count_(id_count), m_(bounds), limit_(bounds.max_open) {}

  /// Runs `steps` random events, then shuts down and drains. Returns the
  /// first broken rule, or an empty string.
  std::string run(int steps) {
    steps_ = steps;
    for (step_ = 0; step_ < steps && error_.empty(); ++step_) {
      random_step();
      check_invariants();
    }
    if (error_.empty()) drain();
    return error_;
  }

  const coverage& covered() const { return coverage_; }

 private:
  std::mt19937_64 rng_;
  std::size_t id_count_;
  lc::machine m_;
  std::size_t limit_ = 0;
  lc::instant now_{0};
  int step_ = 0;
  int steps_ = 0;
  std::string error_;
  bool closed_ = false;
  lc::request_id last_request_ = 0;
  std::unordered_map<lc::request_id, call> calls_;
  std::vector<lc::request_id> waiting_;       ///< acquire/preload neither answered nor dropped
  std::map<lc::lease_id, lease_rec> leases_;  ///< handed out and not ended
  std::vector<lc::lease_id> old_leases_;      ///< handed out and ended
  std::set<lc::lease_id> all_leases_;
  std::map<lc::instance_id, instance_rec> instances_;
  std::set<lc::instance_id> alive_;  ///< instances not down yet
  std::map<std::string, lc::instance_id> current_;
  std::map<std::string, std::uint64_t> loads_by_id_;
  std::uint64_t loads_ = 0;
  std::vector<timer_rec> timers_;  ///< armed, not yet fired (stale ones included)
  std::vector<std::uint64_t> fired_;
  std::set<std::uint64_t> generations_;
  std::set<lc::observer_id> monitored_;
  /// clear/shutdown -> the instances alive when it was called.
  std::map<lc::request_id, std::vector<lc::instance_id>> clears_;
  lc::effects fx_;
  const lc::event* event_ = nullptr;
  coverage coverage_;

  // -- helpers -------------------------------------------------------------------

  void expect(bool ok, const std::string& what) {
    if (!ok && error_.empty()) error_ = "step " + std::to_string(step_) + ": " + what;
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  const std::string& random_id() { return store_ids[pick(id_count_)]; }

  template <class T>
  std::size_t count_fx() const {
    return static_cast<std::size_t>(std::count_if(
        fx_.begin(), fx_.end(), [](const lc::effect& e) { return std::holds_alternative<T>(e); }));
  }

  std::size_t waiting_for(const std::string& id, bool acquires_only) const {
    std::size_t n = 0;
    for (auto r : waiting_) {
      const call& c = calls_.at(r);
      if (c.id == id && (!acquires_only || c.kind == call_kind::acquire)) ++n;
    }
    return n;
  }

  void forget_waiting(lc::request_id r) {
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), r), waiting_.end());
  }

  void end_lease(std::map<lc::lease_id, lease_rec>::iterator it) {
    old_leases_.push_back(it->first);
    leases_.erase(it);
  }

  template <class Pred>
  void end_leases_if(Pred pred) {
    for (auto it = leases_.begin(); it != leases_.end();) {
      auto next = std::next(it);
      if (pred(it->second)) end_lease(it);
      it = next;
    }
  }

  void apply(const lc::event& ev) {
    fx_.clear();
    event_ = &ev;
    m_.handle(ev, now_, fx_);
    for (const auto& e : fx_) std::visit([&](const auto& x) { on_effect(x); }, e);
    event_ = nullptr;
  }

  // -- effects -------------------------------------------------------------------

  void on_effect(const lc::start_load& s) {
    expect(s.instance != 0, "start_load with instance 0");
    expect(instances_.count(s.instance) == 0, "start_load reused an instance id");
    for (auto i : alive_)
      expect(instances_[i].id != s.store_id,
             "start_load for " + s.store_id + " before instance " + std::to_string(i) +
                 " was down");
    auto c = calls_.find(s.options_of);
    expect(c != calls_.end() && c->second.kind != call_kind::clear &&
               c->second.id == s.store_id && c->second.answers == 0 && !c->second.dropped,
           "start_load options_of is not a waiting call for the store");
    if (loads_by_id_[s.store_id] > 0) ++coverage_.reloads_after_close;
    instances_[s.instance] = instance_rec{s.store_id};
    alive_.insert(s.instance);
    current_[s.store_id] = s.instance;
    ++loads_by_id_[s.store_id];
    ++loads_;
  }

  void on_effect(const lc::answer_ready& a) {
    auto it = calls_.find(a.request);
    if (it == calls_.end()) {
      expect(false, "answer_ready for an unknown request");
      return;
    }
    call& c = it->second;
    expect(c.kind != call_kind::clear, "answer_ready for a clear");
    expect(c.answers == 0, "request " + std::to_string(a.request) + " answered twice");
    expect(!c.dropped, "answer_ready for a call whose observer died");
    expect(c.id == a.store_id, "answer_ready for the wrong store");
    ++c.answers;
    forget_waiting(a.request);
    auto inst = instances_.find(a.instance);
    expect(inst != instances_.end() && inst->second.loaded && !inst->second.stop_requested &&
               !inst->second.down && current_[a.store_id] == a.instance,
           "answer_ready hands out an instance that is not open");
    if (c.kind == call_kind::acquire) {
      expect(a.lease != 0, "acquire answered without a lease");
      expect(all_leases_.insert(a.lease).second, "lease id reused");
      leases_[a.lease] = lease_rec{a.store_id, c.observer, a.instance};
    } else {
      expect(a.lease == 0, "preload answered with a lease");
    }
  }

  void on_effect(const lc::answer_error& a) {
    auto it = calls_.find(a.request);
    if (it == calls_.end()) {
      expect(false, "answer_error for an unknown request");
      return;
    }
    call& c = it->second;
    expect(c.kind != call_kind::clear, "answer_error for a clear");
    expect(c.answers == 0, "request " + std::to_string(a.request) + " answered twice");
    expect(!c.dropped, "answer_error for a call whose observer died");
    ++c.answers;
    forget_waiting(a.request);
    const auto code = a.reason.code;
    expect(code == errc::schema_mismatch || code == errc::load_failed ||
               code == errc::cancelled || code == errc::registry_closed,
           "unexpected error code");
    if (code == errc::schema_mismatch) ++coverage_.mismatches;
    if (code == errc::load_failed && a.reason.message.find("max_open_stores") != std::string::npos)
      ++coverage_.refusals;
    if (code == errc::cancelled) ++coverage_.cancels;
  }

  void on_effect(const lc::answer_done& d) {
    auto it = calls_.find(d.request);
    expect(it != calls_.end() && it->second.kind == call_kind::clear,
           "answer_done for a call that is not a clear");
    if (it == calls_.end()) return;
    expect(it->second.answers == 0, "clear answered twice");
    ++it->second.answers;
    for (auto i : clears_[d.request])
      expect(instances_.at(i).down,
             "clear answered before instance " + std::to_string(i) + " was down");
    ++coverage_.clears_done;
  }

  void on_effect(const lc::arm_timer& t) {
    expect(t.delay > 0ms && t.delay <= lc::max_timer_delay, "arm_timer delay out of range");
    expect(t.generation != 0 && generations_.insert(t.generation).second,
           "timer generation 0 or reused");
    const auto inst = current_[t.store_id];
    const auto& rec = instances_[inst];
    expect(rec.loaded && !rec.stop_requested && !rec.down, "arm_timer for a store not open");
    for (const auto& p : timers_)
      expect(!(p.id == t.store_id && p.instance == inst),
             "second pending timer for " + t.store_id);
    if (std::holds_alternative<lc::gc_fired>(*event_)) ++coverage_.rearms;
    timers_.push_back(timer_rec{t.store_id, t.generation, now_ + t.delay, inst});
  }

  void on_effect(const lc::stop_store& s) {
    auto it = instances_.find(s.instance);
    if (it == instances_.end()) {
      expect(false, "stop_store for an unknown instance");
      return;
    }
    auto& rec = it->second;
    expect(rec.id == s.store_id, "stop_store for the wrong store");
    expect(!rec.stop_requested && !rec.down, "stop_store twice or after store_down");
    expect(current_[s.store_id] == s.instance, "stop_store for a stale instance");
    rec.stop_requested = true;
    for (const auto& [lease, l] : leases_)
      expect(l.instance != s.instance,
             "stop_store for " + s.store_id + " while lease " + std::to_string(lease) +
                 " holds it");
  }

  void on_effect(const lc::monitor_observer& o) {
    expect(o.observer != 0, "monitor_observer for observer 0");
    expect(std::holds_alternative<lc::acquire>(*event_), "monitor_observer not from an acquire");
    expect(monitored_.insert(o.observer).second, "observer monitored twice");
  }

  // -- actions -------------------------------------------------------------------

  void new_call(call_kind kind, const std::string& id, lc::observer_id observer, lc::request_id r) {
    calls_[r] = call{kind, id, observer};
    if (kind != call_kind::clear) waiting_.push_back(r);
  }

  void do_acquire() {
    const auto& id = random_id();
    const std::string schema = chance(0.03) ? "other" : "s";
    const lc::observer_id observer = pick(5);
    const auto gc = gc_times[pick(gc_times.size())];
    const auto r = ++last_request_;
    new_call(call_kind::acquire, id, observer, r);
    apply(lc::acquire{r, id, schema, observer, gc});
    if (closed_)
      expect(fx_.size() == 1 && std::holds_alternative<lc::answer_error>(fx_[0]),
             "acquire after shutdown not refused");
  }

  void do_preload() {
    const auto& id = random_id();
    const std::string schema = chance(0.03) ? "other" : "s";
    const auto gc = gc_times[pick(gc_times.size())];
    const auto r = ++last_request_;
    new_call(call_kind::preload, id, 0, r);
    apply(lc::preload{r, id, schema, gc});
    if (closed_)
      expect(fx_.size() == 1 && std::holds_alternative<lc::answer_error>(fx_[0]),
             "preload after shutdown not refused");
  }

  void do_release_live() {
    if (leases_.empty()) return do_advance();
    auto it = std::next(leases_.begin(), static_cast<std::ptrdiff_t>(pick(leases_.size())));
    const auto lease = it->first;
    const auto id = it->second.id;
    const auto before = m_.info(id, now_);
    end_lease(it);
    apply(lc::release{lease});
    expect(count_fx<lc::answer_ready>() + count_fx<lc::answer_error>() == 0,
           "release answered a call");
    if (count_fx<lc::stop_store>() > 0 && limit_ == 0)
      expect(before.gc_time == 0ms && before.observers == 1,
             "release disposed a store with gc_time > 0 or other observers");
  }

  void do_release_dead() {
    lc::lease_id lease = 0;
    if (!old_leases_.empty() && chance(0.8)) lease = old_leases_[pick(old_leases_.size())];
    else if (chance(0.5)) lease = 1'000'000'000 + pick(1000);
    apply(lc::release{lease});
    expect(fx_.empty(), "release of an ended or unknown lease had effects");
  }

  void do_observer_down() {
    const lc::observer_id observer = 1 + pick(5);
    end_leases_if([&](const lease_rec& l) { return l.observer == observer; });
    for (auto r : std::vector<lc::request_id>(waiting_)) {
      call& c = calls_.at(r);
      if (c.kind == call_kind::acquire && c.observer == observer) {
        c.dropped = true;
        forget_waiting(r);
      }
    }
    monitored_.erase(observer);
    apply(lc::observer_down{observer});
    expect(count_fx<lc::answer_ready>() + count_fx<lc::answer_error>() == 0,
           "observer_down answered a call");
    expect(count_fx<lc::start_load>() == 0, "observer_down started a load");
  }

  void do_cancel() {
    lc::request_id r = 0;
    if (!waiting_.empty() && chance(0.7)) r = waiting_[pick(waiting_.size())];
    else if (last_request_ > 0) r = 1 + pick(last_request_);
    auto it = calls_.find(r);
    const bool was_waiting = it != calls_.end() && it->second.kind != call_kind::clear &&
                             it->second.answers == 0 && !it->second.dropped;
    apply(lc::cancel_wait{r});
    if (was_waiting) {
      expect(fx_.size() == 1 && std::holds_alternative<lc::answer_error>(fx_[0]) &&
                 std::get<lc::answer_error>(fx_[0]).reason.code == errc::cancelled &&
                 std::get<lc::answer_error>(fx_[0]).request == r,
             "cancel_wait of a waiting call not answered cancelled");
    } else {
      expect(fx_.empty(), "cancel_wait of a call not waiting had effects");
    }
  }

  /// Instances not down yet that satisfy `pred`.
  std::vector<lc::instance_id> alive_where(bool (*pred)(const instance_rec&)) const {
    std::vector<lc::instance_id> found;
    for (auto i : alive_)
      if (pred(instances_.at(i))) found.push_back(i);
    return found;
  }

  void mark_down(lc::instance_id i) {
    auto& rec = instances_.at(i);
    rec.load_pending = false;  // a load in flight is aborted
    rec.down = true;
    alive_.erase(i);
  }

  void do_complete_load() {
    auto pending =
        alive_where([](const instance_rec& r) { return r.load_pending && !r.down; });
    if (pending.empty()) return do_advance();
    const auto inst = pending[pick(pending.size())];
    auto& rec = instances_[inst];
    const std::string id = rec.id;
    const bool live = !rec.stop_requested;
    const auto before = m_.info(id, now_);
    rec.load_pending = false;
    if (chance(0.8)) {
      rec.loaded = true;
      apply(lc::load_succeeded{id, inst});
      if (live) {
        expect(waiting_for(id, false) == 0, "load_succeeded left callers waiting");
        if (count_fx<lc::stop_store>() > 0 && limit_ == 0)
          expect(before.gc_time == 0ms && before.observers == 0,
                 "a load disposed its store at once with gc_time > 0 or observers");
      } else {
        expect(fx_.empty(), "load_succeeded of a stopped instance had effects");
      }
    } else {
      apply(lc::load_failed{id, inst, {errc::load_failed, "boom"}});
      if (live) {
        ++coverage_.load_failures;
        expect(waiting_for(id, false) == 0, "load_failed left callers waiting");
        expect(count_fx<lc::stop_store>() == 1, "load_failed did not stop the instance");
        for (const auto& e : fx_)
          if (const auto* err = std::get_if<lc::answer_error>(&e))
            expect(err->reason.message == "boom", "load error not passed to the waiter");
        expect(count_fx<lc::answer_ready>() == 0, "load_failed answered ready");
      } else {
        expect(fx_.empty(), "load_failed of a stopped instance had effects");
      }
    }
  }

  void do_stale_completion() {
    std::vector<lc::instance_id> done;
    for (const auto& [i, rec] : instances_)
      if (!rec.load_pending) done.push_back(i);
    if (done.empty()) return do_advance();
    const auto inst = done[pick(done.size())];
    const auto& id = instances_[inst].id;
    if (chance(0.5)) apply(lc::load_succeeded{id, inst});
    else apply(lc::load_failed{id, inst, {errc::load_failed, "late"}});
    expect(fx_.empty(), "a repeated load completion had effects");
  }

  void do_deliver_stop() {
    auto stopping =
        alive_where([](const instance_rec& r) { return r.stop_requested && !r.down; });
    if (stopping.empty()) return do_advance();
    const auto inst = stopping[pick(stopping.size())];
    const std::string id = instances_[inst].id;
    mark_down(inst);
    apply(lc::store_down{id, inst});
    if (limit_ == 0)
      expect(count_fx<lc::answer_ready>() + count_fx<lc::answer_error>() == 0,
             "store_down of a closed store answered a call");
  }

  void do_die() {
    auto open = alive_where(
        [](const instance_rec& r) { return r.loaded && !r.stop_requested && !r.down; });
    if (open.empty()) return do_advance();
    const auto inst = open[pick(open.size())];
    const std::string id = instances_[inst].id;
    mark_down(inst);
    end_leases_if([&](const lease_rec& l) { return l.instance == inst; });
    ++coverage_.deaths;
    apply(lc::store_down{id, inst});
    if (limit_ == 0) expect(fx_.empty(), "a store dying on its own had effects");
  }

  void do_crash_while_loading() {
    auto loading = alive_where(
        [](const instance_rec& r) { return r.load_pending && !r.stop_requested && !r.down; });
    if (loading.empty()) return do_advance();
    const auto inst = loading[pick(loading.size())];
    const std::string id = instances_[inst].id;
    mark_down(inst);
    const auto waiters = waiting_for(id, false);
    apply(lc::store_down{id, inst});
    expect(count_fx<lc::answer_error>() >= waiters, "a crash while loading left callers waiting");
    if (limit_ == 0) expect(fx_.size() == waiters, "a crash while loading had other effects");
  }

  void do_stale_fire() {
    std::uint64_t generation = 0;
    if (!fired_.empty() && chance(0.8)) generation = fired_[pick(fired_.size())];
    else if (chance(0.5)) generation = 1'000'000'000 + pick(1000);
    apply(lc::gc_fired{random_id(), generation});
    expect(fx_.empty(), "a stale gc_fired had effects");
  }

  void do_advance() {
    const auto target = now_ + gc_duration{static_cast<std::int64_t>(pick(31))};
    while (true) {
      auto due = std::min_element(
          timers_.begin(), timers_.end(),
          [](const timer_rec& a, const timer_rec& b) { return a.at < b.at; });
      if (due == timers_.end() || due->at > target) break;
      const timer_rec t = *due;
      timers_.erase(due);
      now_ = std::max(now_, t.at);
      const auto before = m_.info(t.id, now_);
      fired_.push_back(t.generation);
      apply(lc::gc_fired{t.id, t.generation});
      if (count_fx<lc::stop_store>() > 0)
        expect(before.state == store_state::inactive && before.gc_remaining == gc_duration{0},
               "gc disposed " + t.id + " before its deadline");
      if (!error_.empty()) return;
    }
    now_ = target;
  }

  void do_clear(bool shutdown) {
    for (auto it = leases_.begin(); it != leases_.end();) end_lease(it++);
    const auto r = ++last_request_;
    new_call(call_kind::clear, "", 0, r);
    clears_[r].assign(alive_.begin(), alive_.end());
    const auto waiters = waiting_.size();
    if (shutdown) {
      closed_ = true;
      apply(lc::shutdown{r});
      expect(m_.closed(), "shutdown did not close the machine");
    } else {
      apply(lc::clear{r});
    }
    expect(waiting_.empty(), "clear left callers waiting");
    expect(count_fx<lc::answer_error>() == waiters, "clear answered other calls");
    for (const auto& e : fx_)
      if (const auto* err = std::get_if<lc::answer_error>(&e))
        expect(err->reason.code == (shutdown ? errc::registry_closed : errc::cancelled),
               "clear answered waiters with the wrong code");
  }

  std::discrete_distribution<int> actions_{
      20,    // acquire
      8,     // preload
      14,    // release a live lease
      3,     // release an ended or unknown lease
      3,     // observer down
      4,     // cancel
      14,    // complete a load
      2,     // repeat a completion
      10,    // deliver a requested stop
      1,     // a store dies on its own
      1,     // a store crashes while loading
      2,     // stale gc_fired
      16,    // time passes
      0.7,   // clear
      0.3,   // shutdown (in the last tenth of a walk)
  };

  void random_step() {
    int action = actions_(rng_);
    // Shutdown ends the interesting part of a walk: keep it for the last steps.
    if (action == 14 && step_ < steps_ * 9 / 10) action = 13;
    switch (action) {
      case 0: return do_acquire();
      case 1: return do_preload();
      case 2: return do_release_live();
      case 3: return do_release_dead();
      case 4: return do_observer_down();
      case 5: return do_cancel();
      case 6: return do_complete_load();
      case 7: return do_stale_completion();
      case 8: return do_deliver_stop();
      case 9: return do_die();
      case 10: return do_crash_while_loading();
      case 11: return do_stale_fire();
      case 12: return do_advance();
      case 13: return do_clear(false);
      default: return do_clear(true);
    }
  }

  // -- invariants ----------------------------------------------------------------

  void check_invariants() {
    if (!error_.empty()) return;
    const auto s = m_.stats();
    std::size_t observers = 0, active = 0, inactive = 0, loading = 0;
    std::uint64_t loads = 0;
    for (std::size_t k = 0; k < id_count_; ++k) {
      const auto& id = store_ids[k];
      const auto info = m_.info(id, now_);
      std::size_t held = 0;
      for (const auto& [lease, l] : leases_)
        if (l.id == id) ++held;
      const auto expected = held + waiting_for(id, true);
      expect(info.observers < 1'000'000, id + " observer count wrapped");
      expect(info.observers == expected, id + " observers " + std::to_string(info.observers) +
                                             " but live leases " + std::to_string(expected));
      expect(info.loads == loads_by_id_[id], id + " loads counter off");
      observers += info.observers;
      loads += info.loads;
      const auto inst = current_[id];
      switch (info.state) {
        case store_state::active:
          ++active;
          expect(info.observers > 0, id + " active without observers");
          break;
        case store_state::inactive: {
          ++inactive;
          expect(info.observers == 0, id + " inactive with observers");
          if (info.gc_time == gc_never) {
            expect(!info.gc_remaining, id + " gc_never with a deadline");
            break;
          }
          expect(info.gc_time > 0ms, id + " inactive with gc_time 0");
          expect(info.gc_remaining.has_value(), id + " inactive without a deadline");
          std::size_t pending = 0;
          for (const auto& t : timers_)
            if (t.id == id && t.instance == inst) {
              ++pending;
              expect(info.gc_remaining && t.at <= now_ + *info.gc_remaining,
                     id + " timer fires after the deadline");
            }
          expect(pending == 1, id + " unobserved without exactly one pending timer");
          break;
        }
        case store_state::loading: ++loading; break;
        case store_state::disposed:
          expect(info.observers == 0 && info.gc_time == 0ms, id + " disposed but held");
          break;
      }
      if (info.state == store_state::active || info.state == store_state::inactive) {
        const auto& rec = instances_[inst];
        expect(rec.loaded && !rec.stop_requested && !rec.down, id + " cached but not open");
      } else {
        expect(!info.gc_remaining, id + " has a deadline while not inactive");
      }
    }
    expect(observers == s.leases, "stats().leases differs from the observers of all ids");
    expect(waiting_.size() == s.waiting, "stats().waiting differs from the waiting calls");
    expect(active == s.active && inactive == s.inactive, "stats() phase counts differ from info()");
    expect(loading >= s.loading && loading <= s.loading + s.closing,
           "stats().loading differs from info()");
    expect(loads == s.loads && loads == loads_, "stats().loads differs");

    std::size_t open = 0, closing = 0, in_flight = 0, live_timers = 0;
    for (auto i : alive_) {
      const auto& rec = instances_.at(i);
      if (rec.stop_requested) ++closing;
      else if (rec.load_pending) ++in_flight;
      else if (rec.loaded) ++open;
    }
    for (const auto& t : timers_) {
      const auto& rec = instances_[t.instance];
      if (current_[t.id] == t.instance && !rec.stop_requested && !rec.down) ++live_timers;
    }
    expect(closing == s.closing, "stats().closing differs from the stores asked to stop");
    expect(in_flight + s.queued == s.loading,
           "stats().loading differs from the loads in flight and queued");
    if (limit_ != 0)
      expect(alive_.size() <= limit_, "more stores open than the limit: " +
                                          std::to_string(alive_.size()));
    expect(open == s.active + s.inactive, "stats() counts differ from the open stores");
    expect(live_timers == s.pending_timers, "stats().pending_timers differs from live timers");
    coverage_.disposals = std::max(coverage_.disposals, s.disposals);
    coverage_.evictions = std::max(coverage_.evictions, s.evictions);
  }

  /// Every load completes, everything shuts down, every call got its answer.
  void drain() {
    for (auto i : alive_where([](const instance_rec& r) { return r.load_pending && !r.down; })) {
      auto& rec = instances_[i];
      rec.load_pending = false;
      rec.loaded = true;
      apply(lc::load_succeeded{rec.id, i});
    }
    check_invariants();
    do_clear(true);
    check_invariants();
    for (auto i : std::vector<lc::instance_id>(alive_.begin(), alive_.end())) {
      const std::string id = instances_.at(i).id;
      expect(instances_.at(i).stop_requested,
             "shutdown left instance " + std::to_string(i) + " open");
      mark_down(i);
      apply(lc::store_down{id, i});
    }
    check_invariants();
    const auto r = ++last_request_;
    new_call(call_kind::clear, "", 0, r);
    apply(lc::clear{r});
    for (const auto& [req, c] : calls_)
      expect(c.answers == (c.dropped ? 0 : 1),
             "request " + std::to_string(req) + " answered " + std::to_string(c.answers) +
                 " times");
    const auto s = m_.stats();
    expect(s.loading + s.active + s.inactive + s.closing == 0, "entries left after shutdown");
    expect(s.leases + s.waiting + s.pending_timers == 0, "leases or timers left after shutdown");
    for (const auto& [i, rec] : instances_)
      expect(rec.down && !rec.load_pending, "instance " + std::to_string(i) + " not completed");
    expect(leases_.empty(), "leases survived shutdown");
  }
};

struct totals {
  coverage sum;
  void add(const coverage& c) {
    sum.disposals += c.disposals;
    sum.load_failures += c.load_failures;
    sum.reloads_after_close += c.reloads_after_close;
    sum.mismatches += c.mismatches;
    sum.cancels += c.cancels;
    sum.clears_done += c.clears_done;
    sum.rearms += c.rearms;
    sum.deaths += c.deaths;
    sum.evictions += c.evictions;
    sum.refusals += c.refusals;
  }
  void require_all_reached() const {
    CHECK(sum.disposals > 0);
    CHECK(sum.load_failures > 0);
    CHECK(sum.reloads_after_close > 0);
    CHECK(sum.mismatches > 0);
    CHECK(sum.cancels > 0);
    CHECK(sum.clears_done > 0);
    CHECK(sum.rearms > 0);
    CHECK(sum.deaths > 0);
  }
};

totals run_seeds(std::uint64_t first, std::uint64_t count, std::size_t ids, int steps,
                lc::limits bounds = {}) {
  totals t;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    simulation sim(seed, ids, bounds);
    const auto failure = sim.run(steps);
    if (!failure.empty()) {
      CAPTURE(seed, ids, steps);
      FAIL(failure);
    }
    t.add(sim.covered());
  }
  t.require_all_reached();
  return t;
}

}  // namespace

TEST_CASE("random event sequences over four stores keep every invariant",
          "[lifecycle][random]") {
  run_seeds(1, 150, 4, 2000);
}

TEST_CASE("random event sequences on one store keep every invariant", "[lifecycle][random]") {
  run_seeds(1001, 50, 1, 2000);
}

TEST_CASE("random event sequences under an open-store limit never open more stores than it",
          "[lifecycle][random][limits]") {
  const auto t = run_seeds(2001, 150, 4, 2000, lc::limits{.max_open = 2});
  CHECK(t.sum.evictions > 0);
  CHECK(t.sum.refusals > 0);
}
