#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "multistore/errors.hpp"

namespace multistore {

/// The longest store id accepted. Ids name files (`<dir>/<id>.sqlite`), so
/// they stay well under every file system's name limit.
inline constexpr std::size_t max_store_id_length = 120;

/// True when `id` is 1..120 characters of [A-Za-z0-9_-]. Such an id is always
/// a safe file name: no separator, no dot, nothing a shell or SQL quotes.
bool is_valid_store_id(std::string_view id) noexcept;

/// Validates `id` and returns it as a string, or `errc::invalid_store_id`
/// with a message saying what is wrong (empty, too long, or which character at
/// which position is not allowed).
result<std::string> parse_store_id(std::string_view id);

}  // namespace multistore
