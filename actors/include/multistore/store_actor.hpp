#pragma once

// The store actor's protocol (`store_actor_type`, `commit_atom`, `wire_event`,
// ...) is in multistore/messages.hpp, next to the registry's.
#include "multistore/messages.hpp"
