#pragma once

#include <filesystem>
#include <string>

#include "multistore/errors.hpp"

namespace multistore {

/// The client id kept in `<directory>/.client-id`, created on first use
/// (with the directory). Creation is atomic and first-wins: the id is written
/// to a temporary file and linked into place, so concurrent creators in any
/// number of processes all return the same id. Store ids cannot contain '.',
/// so the file never clashes with a store. Errors: `load_failed` when the
/// directory cannot hold or does not hold a valid id (a store cannot be
/// opened there); `storage_failed` when the process is out of file
/// descriptors.
result<std::string> load_or_create_client_id(const std::filesystem::path& directory);

/// A fresh random id (16 lowercase hex digits): a registry's session id, and
/// its client id for memory stores.
std::string make_random_id();

}  // namespace multistore
