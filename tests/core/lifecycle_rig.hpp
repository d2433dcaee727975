#pragma once

// A lifecycle machine on a manual clock, shared by the lifecycle tests.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "multistore/lifecycle.hpp"

namespace lc = multistore::lifecycle;
using multistore::errc;
using multistore::gc_duration;
using multistore::gc_never;
using multistore::store_state;
using namespace std::chrono_literals;

namespace lifecycle_testing {

template <class T>
std::vector<T> all(const lc::effects& fx) {
  std::vector<T> found;
  for (const auto& e : fx)
    if (const auto* p = std::get_if<T>(&e)) found.push_back(*p);
  return found;
}

template <class T>
std::size_t count(const lc::effects& fx) {
  return all<T>(fx).size();
}

template <class T>
T one(const lc::effects& fx) {
  auto found = all<T>(fx);
  REQUIRE(found.size() == 1);
  return found.front();
}

/// A machine on a manual clock, with shorthands for its events. Request ids
/// count up from 1; `last` is the id of the latest call.
struct rig {
  rig() = default;
  explicit rig(lc::limits bounds) : m(bounds) {}

  lc::machine m;
  lc::instant now{0};
  lc::request_id last = 0;

  lc::effects acquire(const std::string& id, gc_duration gc = 60s, lc::observer_id observer = 0,
                      const std::string& schema = "issue") {
    return m.handle(lc::acquire{++last, id, schema, observer, gc}, now);
  }
  lc::effects preload(const std::string& id, gc_duration gc = 60s,
                      const std::string& schema = "issue") {
    return m.handle(lc::preload{++last, id, schema, gc}, now);
  }
  lc::effects loaded(const std::string& id, lc::instance_id instance) {
    return m.handle(lc::load_succeeded{id, instance}, now);
  }
  lc::effects failed(const std::string& id, lc::instance_id instance,
                     const std::string& why = "disk on fire") {
    return m.handle(lc::load_failed{id, instance, {errc::load_failed, why}}, now);
  }
  lc::effects release(lc::lease_id lease) { return m.handle(lc::release{lease}, now); }
  lc::effects down(const std::string& id, lc::instance_id instance) {
    return m.handle(lc::store_down{id, instance}, now);
  }
  lc::effects fire(const std::string& id, std::uint64_t generation) {
    return m.handle(lc::gc_fired{id, generation}, now);
  }
  lc::effects observer_down(lc::observer_id observer) {
    return m.handle(lc::observer_down{observer}, now);
  }
  lc::effects cancel(lc::request_id request) { return m.handle(lc::cancel_wait{request}, now); }
  lc::effects clear() { return m.handle(lc::clear{++last}, now); }
  lc::effects shutdown() { return m.handle(lc::shutdown{++last}, now); }
  multistore::store_info info(const std::string& id) const { return m.info(id, now); }

  struct held {
    lc::instance_id instance;
    lc::lease_id lease;
  };

  /// Acquires `id`, completing the load if one starts.
  held use(const std::string& id, gc_duration gc = 60s, lc::observer_id observer = 0) {
    auto fx = acquire(id, gc, observer);
    if (auto starts = all<lc::start_load>(fx); !starts.empty())
      fx = loaded(id, starts.front().instance);
    auto ready = one<lc::answer_ready>(fx);
    return {ready.instance, ready.lease};
  }
};

}  // namespace lifecycle_testing
