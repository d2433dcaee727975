#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace multistore::detail {

/// JSON as message text. Strings that are not valid UTF-8 (user data, blobs
/// read as text) have their bad bytes replaced instead of throwing: a message
/// must never fail to serialize.
inline std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace multistore::detail
