#pragma once

#include <memory>

#include "multistore/detail/call.hpp"
#include "multistore/store_handle.hpp"

namespace multistore::detail {

/// `use()` as the blocking facade and the fixture both offer it: the options
/// become a call and the lease a typed handle. `Derived` provides
/// `std::shared_ptr<lease> acquire(call)` (and befriends this class).
template <class Derived>
class registry_front {
 public:
  /// Acquires the store (loading it, or joining a load in flight) and returns
  /// a handle once it is ready: the facade blocks the calling thread, the
  /// fixture runs its scheduler. Throws `store_error`: invalid_store_id,
  /// invalid_options, schema_mismatch, load errors, cancelled (clear() or the
  /// options' abort signal), registry_closed.
  template <class Schema>
  store_handle<Schema> use(const store_options<Schema>& options) {
    return store_handle<Schema>{static_cast<Derived&>(*this).acquire(make_call(options))};
  }
};

}  // namespace multistore::detail
