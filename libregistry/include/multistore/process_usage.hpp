#pragma once

#include <cstddef>
#include <cstdint>

/// What this process holds of the machine, for status lines and leak checks
/// next to `registry_stats`:
///
///     auto before = multistore::open_file_descriptors();
///     ...                                  // load and dispose stores
///     assert(multistore::open_file_descriptors() == before);
///
/// Linux only (read from /proc/self); both answer 0 where it is unreadable.
namespace multistore {

/// Resident set size in bytes.
std::uint64_t resident_bytes() noexcept;

/// Open file descriptors.
std::size_t open_file_descriptors() noexcept;

}  // namespace multistore
