#include "multistore/store_info.hpp"

namespace multistore {

std::string_view to_string(store_state state) noexcept {
  switch (state) {
    case store_state::loading: return "loading";
    case store_state::active: return "active";
    case store_state::inactive: return "inactive";
    case store_state::disposed: return "disposed";
  }
  return "unknown";
}

}  // namespace multistore
