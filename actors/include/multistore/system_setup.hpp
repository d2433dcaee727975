#pragma once

namespace caf {
class actor_system_config;
}

namespace multistore {

/// Prepares a CAF configuration for multistore; call before constructing the
/// `caf::actor_system`. Registers every registry and store message type (so
/// they can cross CAF's middleman), the `multistore` error category for
/// `errc`, and sets `work-stealing.moderate-sleep-duration=0us` (blocking
/// round trips ~120 µs -> ~14 µs and idle CPU 23% -> 1% on 2 cores).
void configure(caf::actor_system_config& cfg);

}  // namespace multistore
