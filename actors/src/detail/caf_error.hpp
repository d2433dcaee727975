#pragma once

// multistore's errors as caf::errors: the "multistore" error category.

#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "multistore/errors.hpp"

namespace multistore::detail {

/// The error category of multistore's `caf::error`s.
inline constexpr caf::atom_value error_category = caf::atom("multistore");

/// errc + message as a `caf::error` (the message travels in the context).
/// `to_error` (registry_actor.hpp) is the way back.
caf::error to_caf_error(errc code, std::string message);
caf::error to_caf_error(const error& err);

}  // namespace multistore::detail
