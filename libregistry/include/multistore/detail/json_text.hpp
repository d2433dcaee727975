#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "multistore/errors.hpp"

namespace multistore::detail {

/// JSON as message text. Strings that are not valid UTF-8 (user data, blobs
/// read as text) have their bad bytes replaced instead of throwing: a message
/// must never fail to serialize.
inline std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// JSON of event arguments: invalid UTF-8 is refused (`invalid_event`), never
/// altered, so the log holds exactly what the caller sent or nothing.
inline result<std::string> strict_json_text(const nlohmann::json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception& e) {
    return fail(errc::invalid_event, std::string{"event arguments cannot be stored: "} + e.what());
  }
}

}  // namespace multistore::detail
