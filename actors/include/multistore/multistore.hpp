#pragma once

// The umbrella header: the core, the store engine and the facade. Actors also
// include multistore/actor_api.hpp; tests include multistore/testing.hpp.
#include "multistore/abort_signal.hpp"
#include "multistore/cluster.hpp"
#include "multistore/errors.hpp"
#include "multistore/options.hpp"
#include "multistore/process_usage.hpp"
#include "multistore/schema.hpp"
#include "multistore/sql_value.hpp"
#include "multistore/store.hpp"
#include "multistore/store_handle.hpp"
#include "multistore/store_id.hpp"
#include "multistore/store_info.hpp"
#include "multistore/store_registry.hpp"
#include "multistore/subscription.hpp"
#include "multistore/system_setup.hpp"
