#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lifecycle_reference.hpp"  // the reference driver, shared with the fuzzer
#include "lifecycle_rig.hpp"        // lc, the names of the lifecycle tests

namespace {

using lifecycle_testing::coverage;
using lifecycle_testing::operation;
using lifecycle_testing::reference_driver;
using lifecycle_testing::reference_setup;

/// The reference driver's choices from a seeded generator.
class random_choices {
 public:
  explicit random_choices(std::uint64_t seed) : rng_(seed) {}

  std::uint8_t byte() { return static_cast<std::uint8_t>(below(256)); }
  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  /// The next operation, weighted towards what keeps stores busy.
  /// Shutdown ends the interesting part of a walk: only in its last tenth.
  operation next_operation(bool late) {
    auto op = static_cast<operation>(weights_(rng_));
    if (op == operation::shutdown && !late)
      op = operation::clear;
    return op;
  }

 private:
  std::mt19937_64 rng_;
  // By operation, in the order of the enumeration.
  std::discrete_distribution<int> weights_{
      20,    // acquire
      8,     // preload
      14,    // release a live lease
      3,     // release an ended or unknown lease
      3,     // observer down
      4,     // cancel
      11,    // a load succeeds
      3,     // a load fails
      10,    // deliver a requested stop
      1,     // a store dies on its own
      1,     // a store crashes while loading
      2,     // repeat a completion
      2,     // stale gc_fired
      16,    // time passes
      0.7,   // clear
      0.3,   // shutdown
  };
};

static_assert(lifecycle_testing::operation_count == 16, "one weight per operation");

const std::array<std::string, 4> store_ids{"s0", "s1", "s2", "s3"};

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

/// Walks `steps` random operations per seed over the first `ids` store ids,
/// then drains; fails with the first broken rule.
totals run_seeds(std::uint64_t first, std::uint64_t count, std::size_t ids, int steps,
                 lc::limits bounds = {}) {
  totals t;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    random_choices in{seed};
    reference_setup setup;
    setup.ids.assign(store_ids.begin(), store_ids.begin() + static_cast<std::ptrdiff_t>(ids));
    setup.limits = bounds;
    reference_driver<random_choices> sim{in, setup};
    for (int step = 0; step < steps && !sim.failed(); ++step)
      sim.step(in.next_operation(step >= steps * 9 / 10));
    sim.drain();
    if (sim.failed()) {
      CAPTURE(seed, ids, steps);
      FAIL(sim.failure());
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
