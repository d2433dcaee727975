#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/store_info.hpp"

/// The registry's lifecycle as a pure, deterministic state machine.
///
///     multistore::lifecycle::machine m;
///     multistore::lifecycle::effects out;
///     m.handle(acquire{.request = 1, .store_id = "issue-1", .schema = "issue",
///                      .observer = 7, .gc_time = 20s}, now, out);
///     for (auto& e : out) std::visit(driver, e);   // start_load, monitor_observer, ...
///
/// The machine owns no clock, thread, actor or store: a driver (the CAF
/// registry actor, or a test) feeds it events with the current time and
/// carries out the effects it returns, in order. Not thread-safe: one driver.
namespace multistore::lifecycle {

/// Time since the driver's epoch. Only differences matter.
using instant = std::chrono::milliseconds;

/// The driver's name for an acquiring actor. 0 means "no observer to watch":
/// the lease ends only by `release`, `clear` or `shutdown`.
using observer_id = std::uint64_t;
/// The driver's name for one waiting call (use, preload, clear, shutdown).
using request_id = std::uint64_t;
/// One observer lease, handed out with `answer_ready`. Never 0.
using lease_id = std::uint64_t;
/// One loaded instance of a store; unique within a machine. Never 0.
using instance_id = std::uint64_t;

/// The longest delay `arm_timer` asks for (2^31 - 1 ms, about 24.8 days). A
/// longer gc_time is reached by re-arming: a timer never disposes early.
inline constexpr gc_duration max_timer_delay{2147483647};

/// Where the machine reads the time: at most once per event, and only when
/// the event's outcome depends on it (a GC window starts, a timer fires). A
/// driver hands its clock in and pays no clock read for a cached acquire or a
/// release that leaves other observers.
///
///     m.handle(event, time_source{[&] { return read_clock(); }}, out);
class time_source {
 public:
  /// A time known already.
  explicit time_source(instant fixed) noexcept : cached_(fixed) {}
  /// Calls `clock()` when the time is first needed; `clock` must outlive
  /// this object.
  template <class Clock>
  explicit time_source(const Clock& clock) noexcept : clock_(&clock), read_(&read<Clock>) {}

  instant operator()() const {
    if (!cached_)
      cached_ = read_(clock_);
    return *cached_;
  }

 private:
  template <class Clock>
  static instant read(const void* clock) {
    return (*static_cast<const Clock*>(clock))();
  }

  const void* clock_ = nullptr;
  instant (*read_)(const void*) = nullptr;
  mutable std::optional<instant> cached_;
};

/// The bounds a machine works within.
struct limits {
  /// Most instances open at once: loading, loaded (active or inactive) or
  /// closing. A load beyond it first disposes the least recently used
  /// inactive store and waits for it to close; when every open store is
  /// observed or loading, the load fails with `load_failed`. 0: no limit.
  std::size_t max_open = 0;
  /// How many disposed ids keep their `store_info::loads` counter. The oldest
  /// is forgotten beyond it, so a process that uses ever-new ids stays flat.
  std::size_t id_history = 4096;
};

// -- events -----------------------------------------------------------------

/// A caller wants a store and becomes its observer (a lease) at once, so the
/// store cannot be disposed while the caller waits for it. Its strings are
/// views: they must outlive the `handle` call (the machine copies what it keeps).
struct acquire {
  request_id request = 0;
  std::string_view store_id;  ///< already validated
  std::string_view schema;    ///< a different schema for a cached id is schema_mismatch
  observer_id observer = 0;
  gc_duration gc_time{0};  ///< the call's resolved gc_time
};

/// Warm a store without observing it.
struct preload {
  request_id request = 0;
  std::string_view store_id;  ///< a view, as in `acquire`
  std::string_view schema;
  gc_duration gc_time{0};
};

/// The load of `instance` finished: the store is open and booted.
struct load_succeeded {
  std::string store_id;
  instance_id instance = 0;
};

/// The load of `instance` failed. The driver still reports `store_down` once
/// whatever the load opened is closed.
struct load_failed {
  std::string store_id;
  instance_id instance = 0;
  error reason;
};

/// A lease ends. Unknown leases (released twice, or after clear) are ignored.
struct release {
  lease_id lease = 0;
};

/// An observer died: all its leases end and its waiting calls are dropped
/// without an answer. Unknown observers are ignored.
struct observer_down {
  observer_id observer = 0;
};

/// A waiting call gives up (abort signal): answered `cancelled`, lease ended.
struct cancel_wait {
  request_id request = 0;
};

/// A timer armed with `arm_timer` fired. A stale generation is ignored.
struct gc_fired {
  std::string store_id;
  std::uint64_t generation = 0;
};

/// The instance's store is gone: closed after `stop_store`, or died on its
/// own. In any case its file is closed and the id may load again.
struct store_down {
  std::string store_id;
  instance_id instance = 0;
};

/// Close every store; waiting calls are answered `cancelled`; answered with
/// `answer_done` once every store open at this moment is down. The machine
/// stays usable.
struct clear {
  request_id request = 0;
};

/// Like clear, but the machine then refuses new work with `registry_closed`.
struct shutdown {
  request_id request = 0;
};

using event = std::variant<acquire, preload, load_succeeded, load_failed, release, observer_down,
                           cancel_wait, gc_fired, store_down, clear, shutdown>;

// -- effects ----------------------------------------------------------------

/// Load `store_id` as `instance`, with the options the driver kept for call
/// `options_of` (a waiting acquire or preload of this load).
struct start_load {
  std::string store_id;
  instance_id instance = 0;
  request_id options_of = 0;
};

/// Answer an acquire (with its lease) or a preload (lease 0): the store is ready.
struct answer_ready {
  request_id request = 0;
  std::string store_id;
  instance_id instance = 0;
  lease_id lease = 0;
};

/// Answer a call with an error.
struct answer_error {
  request_id request = 0;
  error reason;
};

/// Answer a clear or shutdown: every store it closed is down.
struct answer_done {
  request_id request = 0;
};

/// Arm one timer that sends `gc_fired{store_id, generation}` after `delay`.
struct arm_timer {
  std::string store_id;
  std::uint64_t generation = 0;
  gc_duration delay{0};
};

/// Shut the instance down (or abort its load); report `store_down` when closed.
struct stop_store {
  std::string store_id;
  instance_id instance = 0;
};

/// Start watching an observer, so its death arrives as `observer_down`.
/// Emitted once per observer the machine does not know yet.
struct monitor_observer {
  observer_id observer = 0;
};

using effect = std::variant<start_load, answer_ready, answer_error, answer_done, arm_timer,
                            stop_store, monitor_observer>;
using effects = std::vector<effect>;

std::string_view to_string(const effect& e) noexcept;  ///< the effect's type name
std::string_view to_string(const event& e) noexcept;   ///< the event's type name

/// One store id the machine holds, as `machine::list` reports it.
struct listed_store {
  std::string store_id;
  std::string schema;
  store_info info;
  /// The loaded instance (active or inactive); 0 while it loads or waits.
  instance_id instance = 0;
};

// -- the machine ------------------------------------------------------------

class machine {
 public:
  machine();
  explicit machine(limits bounds);
  ~machine();
  machine(machine&&) noexcept;
  machine& operator=(machine&&) noexcept;

  /// Applies one event at time `now` and appends its effects to `out` (which
  /// is not cleared, so a driver can reuse one vector).
  void handle(const event& e, instant now, effects& out);

  /// The same, reading the time from `now` only if the event needs it.
  void handle(const event& e, const time_source& now, effects& out);

  /// Convenience for tests: the effects of one event.
  effects handle(const event& e, instant now) {
    effects out;
    handle(e, now, out);
    return out;
  }

  /// What the machine knows about `store_id` at `now`; any id, cached or not.
  store_info info(std::string_view store_id, instant now) const;

  /// Every id that is loading, active or inactive at `now` (what `info`
  /// reports as not disposed), sorted by id.
  std::vector<listed_store> list(instant now) const;

  /// One row of `list`: `store_id` as listed at `now`, or nullopt when it is
  /// not listed (not held, or closing).
  std::optional<listed_store> listed(std::string_view store_id, instant now) const;

  /// The instance of `store_id` when it is loaded (active or inactive), else 0.
  instance_id loaded_instance(std::string_view store_id) const;

  registry_stats stats() const;

  /// True after `shutdown`.
  bool closed() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace multistore::lifecycle
