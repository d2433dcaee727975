#pragma once

// A real actor system (CAF's own scheduler, real clock) configured for
// multistore: for the tests that run outside the deterministic fixture.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "multistore/system_setup.hpp"

struct system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  system_fixture() : sys((multistore::configure(cfg), cfg)) {}
};
