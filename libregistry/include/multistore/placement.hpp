#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "multistore/cluster_config.hpp"

namespace multistore {

/// The weight of `member_name` for `store_id` in rendezvous (highest random
/// weight) placement: XXH64 with seed 0 over the bytes of `member_name`, one
/// 0x00 byte, then the bytes of `store_id`. For example
/// `printf 'alpha\0workspace-1' | xxhsum -H1` prints 983631935ae2028d.
///
/// This is a contract between nodes and with the files on their disks: every
/// node must compute the same weights, and changing the function moves stores
/// away from the node holding their files. The golden vectors in
/// tests/core/cluster_placement_test.cpp pin it.
std::uint64_t placement_weight(std::string_view member_name, std::string_view store_id) noexcept;

/// The index in `members` of the owner of `store_id`: the member with the
/// highest `placement_weight`, a tie going to the lexicographically smaller
/// name. Adding a member moves to it only the stores it wins (about 1/n of
/// them); removing one moves only its stores. `members` must not be empty.
std::size_t owner_index(std::string_view store_id,
                        std::span<const cluster_member> members) noexcept;

/// The name of the owner of `store_id` (see `owner_index`), a reference into
/// `members`. `members` must not be empty.
const std::string& owner_of(std::string_view store_id, std::span<const cluster_member> members);

/// A digest of the member list that nodes compare when they meet, so that two
/// nodes placing stores by different lists refuse each other. XXH64 with seed
/// 0 over the members sorted by name (then host, then port), each written as
/// its name, 0x00, its host, 0x00, its port in decimal without leading zeros,
/// 0x0A. The order of the list does not change it; any change of a name,
/// host or port does. Part of the wire contract like `placement_weight`.
std::uint64_t member_digest(const std::vector<cluster_member>& members);

}  // namespace multistore
