#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "multistore/messages.hpp"
#include "multistore/options.hpp"

namespace spdlog {
class logger;
}

/// The registry actor: owns the lifecycle machine and carries out its effects
/// (spawning, opening and closing store actors, GC timers, answers). Its
/// protocol is `registry_actor_type` in multistore/messages.hpp.
namespace multistore {

/// A registry or store actor's error as the core's error value: multistore's
/// own keep code and message; CAF's "receiver down" means the receiver is
/// gone and becomes `gone`.
error to_error(const caf::error& err, errc gone = errc::store_disposed);

/// Spawns a registry actor. Validate `options` first (`validate`); the actor
/// logs through `logger` (see `library_logger`).
caf::actor spawn_registry(caf::actor_system& sys, registry_options options,
                          std::shared_ptr<spdlog::logger> logger = nullptr);

}  // namespace multistore
