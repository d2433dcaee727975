#include "multistore/errors.hpp"

#include <cerrno>
#include <cstring>

namespace multistore {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_store_id: return "invalid_store_id";
    case errc::invalid_options: return "invalid_options";
    case errc::schema_mismatch: return "schema_mismatch";
    case errc::load_failed: return "load_failed";
    case errc::invalid_event: return "invalid_event";
    case errc::query_failed: return "query_failed";
    case errc::storage_failed: return "storage_failed";
    case errc::store_disposed: return "store_disposed";
    case errc::cancelled: return "cancelled";
    case errc::registry_closed: return "registry_closed";
    case errc::no_registry: return "no_registry";
    case errc::overloaded: return "overloaded";
    case errc::unavailable: return "unavailable";
  }
  return "unknown";
}

namespace {

std::string describe(errc code, const std::string& message) {
  std::string out{to_string(code)};
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace

store_error::store_error(errc code, const std::string& message)
    : std::runtime_error(describe(code, message)), code_(code) {}

store_error::store_error(const error& err) : store_error(err.code, err.message) {}

bool out_of_descriptors(int err) noexcept { return err == EMFILE || err == ENFILE; }

error system_error(errc code, std::string what, int err) {
  what += ": ";
  what += std::strerror(err);
  if (!out_of_descriptors(err))
    return error{code, std::move(what)};
  what += " (out of file descriptors)";
  return error{errc::storage_failed, std::move(what)};
}

}  // namespace multistore
