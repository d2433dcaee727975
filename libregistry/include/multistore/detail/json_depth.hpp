#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace multistore::detail {

/// Event arguments nested deeper than this are refused: nlohmann's dump()
/// and the decoders recurse once per level, so a hostile message could
/// exhaust the stack.
inline constexpr std::size_t max_args_depth = 256;

/// Whether `j` nests arrays or objects more than `max` levels deep (a scalar
/// is 0 levels, `[]` one); walks with its own stack, never recursing.
inline bool nests_deeper_than(const nlohmann::json& j, std::size_t max) {
  std::vector<std::pair<const nlohmann::json*, std::size_t>> pending{{&j, 1}};
  while (!pending.empty()) {
    auto [value, depth] = pending.back();
    pending.pop_back();
    if (!value->is_structured())
      continue;
    if (depth > max)
      return true;
    for (const auto& child : *value)
      pending.emplace_back(&child, depth + 1);
  }
  return false;
}

}  // namespace multistore::detail
