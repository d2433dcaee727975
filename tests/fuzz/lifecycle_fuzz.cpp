// Fuzzes the registry lifecycle machine with event sequences read from the
// input, fed by the reference driver (tests/core/lifecycle_reference.hpp,
// shared with the random walk test), which plays the registry actor's part
// and checks the machine's invariants on every effect and after every step.
//
// Input: three setup bytes (the clock's epoch, then the open-store limit and
// id history of `lifecycle::limits`), then one operation per byte followed by
// its argument bytes (see pick_operation); an argument past the end reads as
// zero. Then the driver drains: every load completes, the machine shuts down
// and every store reports down.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "../core/lifecycle_reference.hpp"

namespace {

using lifecycle_testing::operation;

/// The input as a stream of choices; zeros once it is used up.
class choices {
 public:
  choices(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool done() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  /// A value in [0, n), n >= 1.
  std::size_t below(std::size_t n) { return byte() % n; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// With FUZZ_TRACE=1 in the environment, every event and effect is printed:
///     FUZZ_TRACE=1 build-fuzz/fuzz_lifecycle crash-...
const bool tracing = std::getenv("FUZZ_TRACE") != nullptr;

/// The setup bytes: epoch, open-store limit, id history.
lifecycle_testing::reference_setup read_setup(choices& in) {
  lifecycle_testing::reference_setup setup;
  // Only differences matter, and a registry's clock starts near 0: a walk
  // stays far from the ends of the representable range (see do_advance).
  constexpr std::array<std::int64_t, 3> epochs{0, 1'000'000, -(std::int64_t{1} << 40)};
  setup.epoch = multistore::lifecycle::instant{epochs[in.below(epochs.size())]};
  setup.limits.max_open = in.below(5);
  constexpr std::array<std::size_t, 4> histories{4096, 0, 1, 2};
  setup.limits.id_history = histories[in.below(histories.size())];
  setup.abort_on_failure = true;
  setup.trace = tracing;
  return setup;
}

/// One operation: a byte modulo 16, then its arguments, each one byte taken
/// modulo the number of choices (id of 3, observer slot of 4, gc_time of
/// reference_gc_times, an index into the candidates the driver has).
///   0, 1 acquire id schema slot gc    8  a load fails: index
///   2 preload id schema gc            9  a stop completes (store_down): index
///   3 release a live lease: index     10 an open store dies: index
///   4 release an ended or unknown     11 a loading store dies: index
///   5 observer_down: slot 1..3        12 a completion repeats: index, kind
///   6 cancel_wait: which, index       13 a stale gc_fired: which, index, id
///   7 a load succeeds: index          14 time passes: amount, late
///                                     15 clear (shutdown when the byte % 8 is 0)
operation pick_operation(choices& in) {
  static constexpr std::array<operation, 15> table{
      operation::acquire,         operation::acquire,
      operation::preload,         operation::release,
      operation::release_unknown, operation::observer_down,
      operation::cancel,          operation::load_succeeds,
      operation::load_fails,      operation::store_down,
      operation::store_dies,      operation::crash_while_loading,
      operation::repeat_completion, operation::stale_fire,
      operation::advance};
  const auto b = in.below(16);
  if (b < table.size())
    return table[b];
  return in.below(8) == 0 ? operation::shutdown : operation::clear;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  choices in{data, size};
  lifecycle_testing::reference_driver<choices> d{in, read_setup(in)};
  while (!in.done())
    d.step(pick_operation(in));
  d.drain();
  return 0;
}
