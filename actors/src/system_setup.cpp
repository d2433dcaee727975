#include "multistore/system_setup.hpp"

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

namespace multistore {

void configure(caf::actor_system_config& cfg) {
  cfg.set("work-stealing.moderate-sleep-duration", caf::timespan{0});
}

}  // namespace multistore
