#include "multistore/lifecycle.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
#include <functional>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>

#include "intrusive_list.hpp"

namespace multistore::lifecycle {

namespace {

constexpr std::string_view effect_names[] = {"start_load", "answer_ready", "answer_error",
                                             "answer_done", "arm_timer",    "stop_store",
                                             "monitor_observer"};
static_assert(std::size(effect_names) == std::variant_size_v<effect>);

constexpr std::string_view event_names[] = {
    "acquire",       "preload",     "load_succeeded", "load_failed", "release", "observer_down",
    "cancel_wait",   "gc_fired",    "store_down",     "clear",       "shutdown"};
static_assert(std::size(event_names) == std::variant_size_v<event>);

/// Lets `find(std::string_view)` work on maps keyed by std::string without
/// building a temporary string on every lookup.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

/// `now + d` clamped to the largest instant: gc_time may be anything up to
/// `gc_never`, and a deadline must never wrap around into the past.
instant saturating_add(instant now, gc_duration d) noexcept {
  constexpr auto top = instant::max().count();
  if (d.count() > 0 && now.count() > top - d.count()) return instant::max();
  return now + d;
}

/// `deadline - now`, never negative and never overflowing.
gc_duration remaining(instant deadline, instant now) noexcept {
  if (now >= deadline) return gc_duration::zero();
  if (now.count() < 0 && deadline.count() > instant::max().count() + now.count())
    return gc_duration::max();
  return deadline - now;
}

/// The machine's internal phases. `closing` is reported as `disposed` (or
/// `loading` when calls are queued for the next instance).
enum class entry_phase : std::uint8_t { loading, active, inactive, closing };

}  // namespace

std::string_view to_string(const effect& e) noexcept {
  return e.index() < std::size(effect_names) ? effect_names[e.index()] : "unknown";
}

std::string_view to_string(const event& e) noexcept {
  return e.index() < std::size(event_names) ? event_names[e.index()] : "unknown";
}

/// Entries live in `ids_` (one node per live id plus the most recently
/// disposed ones, so the per-id load counter survives the entry; node-based
/// maps keep every pointer below stable). The cached acquire/release path
/// costs one id lookup, one lease insert and one lease erase; everything else
/// is O(1) pointer work, except clear/shutdown and stats, which walk the live
/// entries.
///
/// Open-store limit: every live entry holds a slot except those queued for
/// one (loading, no instance yet). Inactive entries form an LRU list, the
/// least recently used first, from which a queued load evicts.
struct machine::impl {
  struct entry;
  struct id_record;
  struct observer_rec;

  /// One lease, linked into its entry's list and its observer's list so that
  /// a store's death or an observer's death ends its leases without a scan.
  /// Lives in `leases_`, whose nodes never move.
  struct lease_rec {
    lease_id id = 0;
    entry* owner = nullptr;
    observer_rec* watcher = nullptr;  ///< null for observer 0
    list_hook<lease_rec> entry_link;
    list_hook<lease_rec> observer_link;
    /// Its acquire still waits for the load: not handed out, so `release`
    /// cannot end it.
    bool waiting = false;
  };

  /// A lease list, the newest first.
  using entry_leases = intrusive_list<lease_rec, &lease_rec::entry_link>;
  using observer_leases = intrusive_list<lease_rec, &lease_rec::observer_link>;

  struct observer_rec {
    observer_leases leases;
  };

  /// A call waiting for a load: an acquire (with its lease) or a preload.
  struct waiter {
    request_id request = 0;
    lease_rec* lease = nullptr;  ///< null for a preload
    gc_duration gc_time{0};
  };

  struct entry {
    id_record* record = nullptr;
    const std::string* id = nullptr;  ///< the key in `ids_`
    list_hook<entry> live_link;       ///< in `live_`
    std::string schema;
    entry_phase phase = entry_phase::loading;
    instance_id instance = 0;
    /// Maximum gc_time over every call of this instance (0 while closing:
    /// queued calls keep their own in `waiters`).
    gc_duration gc_time{0};
    std::size_t lease_count = 0;  ///< leases, waiting ones included
    entry_leases leases;
    std::vector<waiter> waiters;
    bool gc_window = false;  ///< inactive with a finite deadline
    instant deadline{0};
    std::uint64_t timer = 0;  ///< generation of the pending timer, 0 if none
    /// clear/shutdown calls waiting for this instance's store_down.
    std::vector<request_id> closers;
    /// Waits in `queue_` for a slot: no instance started, holds no slot.
    bool queued = false;
    list_hook<entry> lru_link;  ///< in `lru_` while inactive
  };

  /// Per id, for the machine's whole life: the load counter survives the entry.
  struct id_record {
    std::uint64_t loads = 0;
    std::unique_ptr<entry> live;
    /// Linked into the list of retired records (no live entry), oldest first.
    std::string_view key;  ///< its key in `ids_` (node keys never move)
    bool retired = false;
    list_hook<id_record> retired_link;
  };

  using id_map = std::unordered_map<std::string, id_record, string_hash, std::equal_to<>>;

  limits limits_;
  id_map ids_;
  /// Live entries (those in `id_record::live`), the newest first.
  intrusive_list<entry, &entry::live_link> live_;
  /// Inactive entries, the least recently used first.
  intrusive_list<entry, &entry::lru_link> lru_;
  std::deque<entry*> queue_;  ///< fresh loads waiting for a slot, oldest first
  std::size_t open_ = 0;      ///< live entries holding a slot (not queued)
  std::size_t closing_ = 0;   ///< entries in entry_phase::closing (each frees or reuses its slot)
  /// Records of disposed ids, the one disposed longest ago first.
  intrusive_list<id_record, &id_record::retired_link> retired_;
  using lease_map = std::unordered_map<lease_id, lease_rec>;
  lease_map leases_;
  /// Nodes of ended leases, reused by the next ones: a cached acquire and its
  /// release allocate nothing.
  std::vector<lease_map::node_type> spare_leases_;
  std::unordered_map<observer_id, observer_rec> observers_;
  std::unordered_map<request_id, entry*> waiting_;     ///< acquire/preload -> entry
  std::unordered_map<request_id, std::size_t> closes_;  ///< clear/shutdown -> stores not down
  std::uint64_t last_lease_ = 0;
  std::uint64_t last_instance_ = 0;
  std::uint64_t last_generation_ = 0;
  /// The counters of stats() the machine keeps as it goes: every figure
  /// but the three container sizes, so stats() is O(1).
  registry_stats counts_;
  bool closed_ = false;

  // -- lookup ----------------------------------------------------------------

  entry* find(std::string_view id) const {
    auto it = ids_.find(id);
    return it == ids_.end() ? nullptr : it->second.live.get();
  }

  /// Whether a call with `schema` may use the entry. A closing entry with no
  /// queued call belongs to nobody yet: the next instance takes any schema.
  static bool accepts(const entry& e, std::string_view schema) {
    return (e.phase == entry_phase::closing && e.waiters.empty()) || e.schema == schema;
  }

  static error mismatch(const entry& e, std::string_view schema) {
    std::string msg = "store '";
    msg += *e.id;
    msg += "' is in use with schema '";
    msg += e.schema;
    msg += "', not '";
    msg += schema;
    msg += '\'';
    return error{errc::schema_mismatch, std::move(msg)};
  }

  static error closed_error() {
    return error{errc::registry_closed, "the registry is shut down and takes no new calls"};
  }

  /// The entry for a call that found none: created in `loading` without an
  /// instance; the caller adds its waiter and then calls `begin_load`.
  entry& create(id_map::iterator it, std::string_view schema) {
    auto& rec = it->second;
    unretire(rec);
    rec.live = std::make_unique<entry>();
    entry& e = *rec.live;
    e.record = &rec;
    e.id = &it->first;
    e.schema = schema;
    live_.push_front(e);
    ++phase_count(e.phase);
    return e;
  }

  void remove(entry& e) {
    assert(e.lease_count == 0 && e.waiters.empty() && e.leases.empty());
    drop_timer(e);
    if (e.phase == entry_phase::inactive) lru_.unlink(e);
    if (!e.queued) --open_;
    --phase_count(e.phase);
    live_.unlink(e);
    id_record& rec = *e.record;
    rec.key = *e.id;
    rec.live.reset();
    retire(rec);
  }

  // -- the history of disposed ids -------------------------------------------------

  /// Keeps a disposed id's record (its load counter) as the most recent, and
  /// forgets the oldest beyond the history bound.
  void retire(id_record& rec) {
    assert(!rec.retired && rec.live == nullptr);
    rec.retired = true;
    retired_.push_back(rec);
    while (retired_.size() > limits_.id_history) {
      id_record& oldest = *retired_.front();
      const std::string_view key = oldest.key;
      unretire(oldest);
      if (auto it = ids_.find(key); it != ids_.end()) ids_.erase(it);
    }
  }

  /// Takes a record off the retired list (its id is loading again, or forgotten).
  void unretire(id_record& rec) {
    if (!rec.retired) return;
    rec.retired = false;
    retired_.unlink(rec);
  }

  /// Moves the entry to a new phase, keeping the LRU list to inactive entries.
  void set_phase(entry& e, entry_phase p) {
    if (e.phase == entry_phase::inactive) lru_.unlink(e);
    --phase_count(e.phase);
    e.phase = p;
    ++phase_count(p);
    if (p == entry_phase::inactive) lru_.push_back(e);
  }

  // -- leases ------------------------------------------------------------------

  lease_rec& new_lease(entry& e, observer_id observer, effects& out) {
    const lease_id id = ++last_lease_;
    lease_rec* slot = nullptr;
    if (spare_leases_.empty()) {
      slot = &leases_.try_emplace(id).first->second;
    } else {
      auto node = std::move(spare_leases_.back());
      spare_leases_.pop_back();
      node.key() = id;
      node.mapped() = lease_rec{};
      slot = &leases_.insert(std::move(node)).position->second;
    }
    lease_rec& l = *slot;
    l.id = id;
    l.owner = &e;
    e.leases.push_front(l);
    ++e.lease_count;
    if (observer != 0) {
      auto [it, inserted] = observers_.try_emplace(observer);
      if (inserted) out.emplace_back(monitor_observer{observer});
      observer_rec& o = it->second;
      l.watcher = &o;
      o.leases.push_front(l);
    }
    return l;
  }

  /// Unlinks a lease from its entry and observer. Does not look at the
  /// entry's phase.
  static void unlink(lease_rec& l) {
    entry& e = *l.owner;
    e.leases.unlink(l);
    if (l.watcher != nullptr) l.watcher->leases.unlink(l);
    assert(e.lease_count > 0);
    --e.lease_count;
  }

  void end_lease(lease_rec& l) {
    unlink(l);
    erase_lease(leases_.find(l.id));
  }

  void erase_lease(lease_map::iterator it) {
    constexpr std::size_t max_spare = 64;
    if (spare_leases_.size() < max_spare)
      spare_leases_.push_back(leases_.extract(it));
    else
      leases_.erase(it);
  }

  /// After a handed-out lease ended: the last observer leaving starts GC.
  void observer_left(entry& e, const time_source& now, effects& out) {
    if (e.lease_count == 0 && e.phase == entry_phase::active) {
      set_phase(e, entry_phase::inactive);
      start_gc_window(e, now, out);
    }
  }

  // -- waiting calls -----------------------------------------------------------

  void wait(entry& e, request_id request, lease_rec* lease, gc_duration gc_time) {
    if (lease != nullptr) lease->waiting = true;
    e.waiters.push_back(waiter{request, lease, gc_time});
    [[maybe_unused]] const bool fresh = waiting_.try_emplace(request, &e).second;
    assert(fresh && "request ids of waiting calls must be distinct");
  }

  /// Answers every waiter with `reason` and ends their leases.
  void fail_waiters(entry& e, const error& reason, effects& out) {
    for (const waiter& w : e.waiters) {
      waiting_.erase(w.request);
      out.emplace_back(answer_error{w.request, reason});
      if (w.lease != nullptr) end_lease(*w.lease);
    }
    e.waiters.clear();
  }

  // -- loads, GC and stops -----------------------------------------------------

  /// Starts a new instance for the calls waiting on `e`, which holds a slot.
  void begin_load(entry& e, request_id options_of, effects& out) {
    assert(!e.waiters.empty() && !e.queued);
    e.instance = ++last_instance_;
    ++e.record->loads;
    ++counts_.loads;
    set_phase(e, entry_phase::loading);
    e.gc_window = false;
    e.gc_time = gc_duration::zero();
    for (const waiter& w : e.waiters) e.gc_time = std::max(e.gc_time, w.gc_time);
    out.emplace_back(start_load{*e.id, e.instance, options_of});
  }

  static void raise_gc(entry& e, gc_duration gc_time) { e.gc_time = std::max(e.gc_time, gc_time); }

  void drop_timer(entry& e) {
    if (e.timer != 0) {
      e.timer = 0;
      --counts_.pending_timers;
    }
  }

  void arm(entry& e, const time_source& now, effects& out) {
    assert(e.timer == 0);
    e.timer = ++last_generation_;
    ++counts_.pending_timers;
    const auto delay = std::min(remaining(e.deadline, now()), max_timer_delay);
    out.emplace_back(arm_timer{*e.id, e.timer, delay});
  }

  /// An inactive entry's GC window starts (again) at `now` with its maximum
  /// gc_time. A timer still pending is reused: the deadline only moves later
  /// (the maximum only grows), so it fires early at worst and re-arms then.
  void start_gc_window(entry& e, const time_source& now, effects& out) {
    assert(e.phase == entry_phase::inactive && e.lease_count == 0);
    if (e.gc_time == gc_never) {
      e.gc_window = false;
      return;
    }
    if (e.gc_time <= gc_duration::zero()) {
      stop(e, true, out);
      return;
    }
    e.gc_window = true;
    e.deadline = saturating_add(now(), e.gc_time);
    if (e.timer == 0) arm(e, now, out);
  }

  /// A fresh entry (in `loading`, no instance) asks for a slot.
  void request_load(entry& e, effects& out) {
    for (const waiter& w : e.waiters) raise_gc(e, w.gc_time);
    e.queued = true;
    queue_.push_back(&e);
    pump(out);
  }

  /// Starts queued loads while slots are free. At the limit, evicts the least
  /// recently used inactive store for each queued load that no closing store
  /// will make room for, and refuses the newest loads when nothing can.
  void pump(effects& out) {
    const std::size_t max = limits_.max_open;
    while (!queue_.empty()) {
      if (max == 0 || open_ < max) {
        entry& e = *queue_.front();
        queue_.pop_front();
        if (e.waiters.empty()) {  // every caller gave up while it was queued
          remove(e);
          continue;
        }
        e.queued = false;
        ++open_;
        begin_load(e, e.waiters.front().request, out);
        continue;
      }
      if (queue_.size() <= closing_) return;  // closing stores will free enough slots
      if (!lru_.empty()) {
        ++counts_.evictions;
        stop(*lru_.front(), true, out);
        continue;
      }
      entry& e = *queue_.back();
      queue_.pop_back();
      std::string msg = "cannot load store '";
      msg += *e.id;
      msg += "': the registry holds its limit of ";
      msg += std::to_string(max);
      msg += " open stores (registry_options::max_open_stores) and every one is observed or "
             "loading";
      fail_waiters(e, error{errc::load_failed, std::move(msg)}, out);
      ++counts_.load_failures;
      remove(e);
    }
  }

  /// Asks the driver to close the instance; the entry waits for store_down.
  void stop(entry& e, bool disposal, effects& out) {
    assert(!e.queued && e.phase != entry_phase::closing);
    out.emplace_back(stop_store{*e.id, e.instance});
    set_phase(e, entry_phase::closing);
    ++closing_;
    e.gc_time = gc_duration::zero();
    e.gc_window = false;
    drop_timer(e);
    if (disposal) ++counts_.disposals;
  }

  /// Ends every lease and waiting call, stops every store and lets `request`
  /// wait for all closing instances.
  void stop_all(request_id request, errc code, std::string_view why, effects& out) {
    for (entry* e = live_.front(); e != nullptr; e = live_.next(*e)) {
      if (e->waiters.empty()) continue;
      std::string msg = "store '";
      msg += *e->id;
      msg += "' was not ready: ";
      msg += why;
      fail_waiters(*e, error{code, std::move(msg)}, out);
    }
    for (entry* e = live_.front(); e != nullptr; e = live_.next(*e)) {
      while (!e->leases.empty()) end_lease(*e->leases.front());
    }
    std::size_t closing = 0;
    for (entry* e = live_.front(); e != nullptr;) {
      entry* next = live_.next(*e);
      if (e->queued) {  // never started: nothing to close
        remove(*e);
        e = next;
        continue;
      }
      switch (e->phase) {
        case entry_phase::loading: stop(*e, false, out); break;
        case entry_phase::active:
        case entry_phase::inactive: stop(*e, true, out); break;
        case entry_phase::closing: break;
      }
      e->closers.push_back(request);
      ++closing;
      e = next;
    }
    queue_.clear();
    if (closing == 0) out.emplace_back(answer_done{request});
    else closes_.insert_or_assign(request, closing);
  }

  // -- events --------------------------------------------------------------------

  /// The entry a call that wants a store works on, and whether it was just
  /// created (in `loading`, no instance, no waiter yet).
  struct admission {
    entry* e = nullptr;  ///< null: the call was refused and answered
    bool fresh = false;
  };

  /// What acquire and preload do first: refuse the call after shutdown or
  /// when the id is in use with another schema, else find or create its entry.
  admission admit(request_id request, std::string_view store_id, std::string_view schema,
                  effects& out) {
    if (closed_) {
      out.emplace_back(answer_error{request, closed_error()});
      return {};
    }
    auto it = ids_.find(store_id);
    entry* e = it == ids_.end() ? nullptr : it->second.live.get();
    if (e != nullptr && !accepts(*e, schema)) {
      out.emplace_back(answer_error{request, mismatch(*e, schema)});
      return {};
    }
    if (e != nullptr) return {e, false};
    if (it == ids_.end()) it = ids_.try_emplace(std::string{store_id}).first;
    return {&create(it, schema), true};
  }

  void on(const acquire& a, const time_source&, effects& out) {
    auto [e, fresh] = admit(a.request, a.store_id, a.schema, out);
    if (e == nullptr) return;
    lease_rec& l = new_lease(*e, a.observer, out);
    switch (e->phase) {
      case entry_phase::inactive:
        // Cancels GC: the pending timer, if any, finds the entry active and is consumed.
        set_phase(*e, entry_phase::active);
        e->gc_window = false;
        [[fallthrough]];
      case entry_phase::active:
        raise_gc(*e, a.gc_time);
        out.emplace_back(answer_ready{a.request, *e->id, e->instance, l.id});
        return;
      case entry_phase::loading:
        wait(*e, a.request, &l, a.gc_time);
        if (fresh) request_load(*e, out);
        else raise_gc(*e, a.gc_time);
        return;
      case entry_phase::closing:
        if (e->waiters.empty()) e->schema = a.schema;
        wait(*e, a.request, &l, a.gc_time);
        return;
    }
  }

  void on(const preload& p, const time_source& now, effects& out) {
    auto [e, fresh] = admit(p.request, p.store_id, p.schema, out);
    if (e == nullptr) return;
    if (fresh) {
      wait(*e, p.request, nullptr, p.gc_time);
      request_load(*e, out);
      return;
    }
    switch (e->phase) {
      case entry_phase::active:
        raise_gc(*e, p.gc_time);
        out.emplace_back(answer_ready{p.request, *e->id, e->instance, 0});
        return;
      case entry_phase::inactive:
        raise_gc(*e, p.gc_time);
        out.emplace_back(answer_ready{p.request, *e->id, e->instance, 0});
        lru_.unlink(*e);  // a read is a use: most recently used now
        lru_.push_back(*e);
        start_gc_window(*e, now, out);
        return;
      case entry_phase::loading:
        raise_gc(*e, p.gc_time);
        wait(*e, p.request, nullptr, p.gc_time);
        return;
      case entry_phase::closing:
        if (e->waiters.empty()) e->schema = p.schema;
        wait(*e, p.request, nullptr, p.gc_time);
        return;
    }
  }

  void on(const load_succeeded& s, const time_source& now, effects& out) {
    entry* e = find(s.store_id);
    if (e == nullptr || e->phase != entry_phase::loading || e->instance != s.instance) return;
    for (const waiter& w : e->waiters) {
      waiting_.erase(w.request);
      lease_id lease = 0;
      if (w.lease != nullptr) {
        w.lease->waiting = false;
        lease = w.lease->id;
      }
      out.emplace_back(answer_ready{w.request, *e->id, e->instance, lease});
    }
    e->waiters.clear();
    if (e->lease_count > 0) {
      set_phase(*e, entry_phase::active);
    } else {
      set_phase(*e, entry_phase::inactive);
      start_gc_window(*e, now, out);
    }
  }

  void on(const load_failed& f, const time_source&, effects& out) {
    entry* e = find(f.store_id);
    if (e == nullptr || e->phase != entry_phase::loading || e->instance != f.instance) return;
    fail_waiters(*e, f.reason, out);
    ++counts_.load_failures;
    stop(*e, false, out);
  }

  void on(const release& r, const time_source& now, effects& out) {
    auto it = leases_.find(r.lease);
    if (it == leases_.end() || it->second.waiting) return;
    entry& e = *it->second.owner;
    unlink(it->second);
    erase_lease(it);
    observer_left(e, now, out);
  }

  void on(const observer_down& d, const time_source& now, effects& out) {
    auto it = observers_.find(d.observer);
    if (it == observers_.end()) return;
    observer_rec& o = it->second;
    while (!o.leases.empty()) {
      lease_rec& l = *o.leases.front();
      entry& e = *l.owner;
      if (l.waiting) {
        auto w = std::find_if(e.waiters.begin(), e.waiters.end(),
                              [&](const waiter& x) { return x.lease == &l; });
        assert(w != e.waiters.end());
        waiting_.erase(w->request);
        e.waiters.erase(w);
        end_lease(l);
      } else {
        end_lease(l);
        observer_left(e, now, out);
      }
    }
    observers_.erase(it);
  }

  void on(const cancel_wait& c, const time_source&, effects& out) {
    auto it = waiting_.find(c.request);
    if (it == waiting_.end()) return;
    entry& e = *it->second;
    waiting_.erase(it);
    auto w = std::find_if(e.waiters.begin(), e.waiters.end(),
                          [&](const waiter& x) { return x.request == c.request; });
    assert(w != e.waiters.end());
    lease_rec* lease = w->lease;
    e.waiters.erase(w);
    std::string msg = "the call for store '";
    msg += *e.id;
    msg += "' was cancelled";
    out.emplace_back(answer_error{c.request, error{errc::cancelled, std::move(msg)}});
    if (lease != nullptr) end_lease(*lease);
  }

  void on(const gc_fired& g, const time_source& now, effects& out) {
    entry* e = find(g.store_id);
    if (e == nullptr || g.generation == 0 || e->timer != g.generation) return;
    drop_timer(*e);
    if (e->phase != entry_phase::inactive || !e->gc_window) return;
    if (now() >= e->deadline) stop(*e, true, out);
    else arm(*e, now, out);
  }

  void on(const store_down& d, const time_source&, effects& out) {
    entry* e = find(d.store_id);
    if (e == nullptr || e->queued || e->instance != d.instance) return;
    switch (e->phase) {
      case entry_phase::closing:
        --closing_;
        for (request_id r : e->closers) {
          auto c = closes_.find(r);
          if (c != closes_.end() && --c->second == 0) {
            out.emplace_back(answer_done{r});
            closes_.erase(c);
          }
        }
        e->closers.clear();
        if (e->waiters.empty()) remove(*e);
        else begin_load(*e, e->waiters.front().request, out);
        return;
      case entry_phase::loading: {
        std::string msg = "store '";
        msg += *e->id;
        msg += "' stopped while loading";
        fail_waiters(*e, error{errc::load_failed, std::move(msg)}, out);
        ++counts_.load_failures;
        remove(*e);
        return;
      }
      case entry_phase::active:
      case entry_phase::inactive:
        // Died on its own: never handed out again; its handles fail on use.
        while (!e->leases.empty()) end_lease(*e->leases.front());
        remove(*e);
        return;
    }
  }

  void on(const clear& c, const time_source&, effects& out) {
    stop_all(c.request, errc::cancelled, "the registry was cleared", out);
  }

  void on(const shutdown& s, const time_source&, effects& out) {
    closed_ = true;
    stop_all(s.request, errc::registry_closed, "the registry was shut down", out);
  }

  // -- queries -----------------------------------------------------------------

  store_info info(std::string_view id, instant now) const {
    auto it = ids_.find(id);
    if (it == ids_.end()) return store_info{};
    return info_of(it->second, now);
  }

  std::vector<listed_store> list(instant now) const {
    std::vector<listed_store> out;
    for (const entry* e = live_.front(); e != nullptr; e = live_.next(*e))
      if (auto row = listed_of(*e, now)) out.push_back(std::move(*row));
    std::sort(out.begin(), out.end(),
              [](const listed_store& a, const listed_store& b) { return a.store_id < b.store_id; });
    return out;
  }

  std::optional<listed_store> listed(std::string_view id, instant now) const {
    auto it = ids_.find(id);
    if (it == ids_.end() || !it->second.live) return std::nullopt;
    return listed_of(*it->second.live, now);
  }

  /// A live entry as listed, or nullopt while it closes (nobody waits).
  static std::optional<listed_store> listed_of(const entry& e, instant now) {
    store_info info = info_of(*e.record, now);
    if (info.state == store_state::disposed) return std::nullopt;
    bool loaded = info.state == store_state::active || info.state == store_state::inactive;
    return listed_store{*e.id, e.schema, info, loaded ? e.instance : 0};
  }

  instance_id loaded_instance(std::string_view id) const {
    auto it = ids_.find(id);
    if (it == ids_.end() || !it->second.live) return 0;
    const entry& e = *it->second.live;
    return e.phase == entry_phase::active || e.phase == entry_phase::inactive ? e.instance : 0;
  }

  static store_info info_of(const id_record& record, instant now) {
    store_info info;
    info.loads = record.loads;
    const entry* e = record.live.get();
    if (e == nullptr) return info;
    switch (e->phase) {
      case entry_phase::loading:
        info.state = store_state::loading;
        info.observers = e->lease_count;
        info.gc_time = e->gc_time;
        break;
      case entry_phase::active:
        info.state = store_state::active;
        info.observers = e->lease_count;
        info.gc_time = e->gc_time;
        break;
      case entry_phase::inactive:
        info.state = store_state::inactive;
        info.gc_time = e->gc_time;
        if (e->gc_window) info.gc_remaining = remaining(e->deadline, now);
        break;
      case entry_phase::closing:
        if (!e->waiters.empty()) {
          info.state = store_state::loading;
          info.observers = e->lease_count;
          for (const waiter& w : e->waiters) info.gc_time = std::max(info.gc_time, w.gc_time);
        }
        break;
    }
    return info;
  }

  /// The counter of live entries in phase `p`, kept by new_entry, set_phase and remove.
  std::size_t& phase_count(entry_phase p) {
    switch (p) {
      case entry_phase::loading: return counts_.loading;
      case entry_phase::active: return counts_.active;
      case entry_phase::inactive: return counts_.inactive;
      case entry_phase::closing: break;
    }
    return counts_.closing;
  }

  registry_stats stats() const {
    registry_stats s = counts_;
    s.queued = queue_.size();
    s.leases = leases_.size();
    s.waiting = waiting_.size();
    return s;
  }
};

machine::machine() : machine(limits{}) {}

machine::machine(limits bounds) : impl_(std::make_unique<impl>()) { impl_->limits_ = bounds; }
machine::~machine() = default;
machine::machine(machine&&) noexcept = default;
machine& machine::operator=(machine&&) noexcept = default;

void machine::handle(const event& e, instant now, effects& out) {
  handle(e, time_source{now}, out);
}

void machine::handle(const event& e, const time_source& now, effects& out) {
  std::visit([&](const auto& ev) { impl_->on(ev, now, out); }, e);
  // Any event may free a slot or make a store evictable for a queued load.
  if (!impl_->queue_.empty()) impl_->pump(out);
}

store_info machine::info(std::string_view store_id, instant now) const {
  return impl_->info(store_id, now);
}

std::vector<listed_store> machine::list(instant now) const { return impl_->list(now); }

std::optional<listed_store> machine::listed(std::string_view store_id, instant now) const {
  return impl_->listed(store_id, now);
}

instance_id machine::loaded_instance(std::string_view store_id) const {
  return impl_->loaded_instance(store_id);
}

registry_stats machine::stats() const { return impl_->stats(); }

bool machine::closed() const noexcept { return impl_->closed_; }

}  // namespace multistore::lifecycle
