#include "multistore/store_id.hpp"

#include <array>
#include <cstdio>

#include "detail/printable.hpp"

namespace multistore {

namespace {

constexpr bool allowed_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
         || c == '-';
}

// One table look-up per byte: every acquire checks its id.
constexpr auto allowed_table = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c)
    t[c] = allowed_char(static_cast<unsigned char>(c));
  return t;
}();

constexpr bool allowed(char c) noexcept {
  return allowed_table[static_cast<unsigned char>(c)];
}


}  // namespace

bool is_valid_store_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_store_id_length)
    return false;
  for (char c : id)
    if (!allowed(c))
      return false;
  return true;
}

result<std::string> parse_store_id(std::string_view id) {
  if (id.empty())
    return fail(errc::invalid_store_id, "store id is empty; use 1 to 120 of A-Z a-z 0-9 _ -");
  if (id.size() > max_store_id_length)
    return fail(errc::invalid_store_id, "store id '" + detail::printable(id) + "' is "
                                            + std::to_string(id.size())
                                            + " characters long; at most 120 are allowed");
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!allowed(id[i]))
      return fail(errc::invalid_store_id,
                  "store id '" + detail::printable(id) + "' may only contain A-Z a-z 0-9 _ - (character "
                      + std::to_string(i + 1) + " is '" + detail::printable(id.substr(i, 1)) + "')");
  }
  return std::string{id};
}

namespace detail {

std::string printable(std::string_view id) {
  constexpr std::size_t shown = 40;
  std::string out;
  for (std::size_t i = 0; i < id.size() && i < shown; ++i) {
    auto c = static_cast<unsigned char>(id[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (id.size() > shown)
    out += "...";
  return out;
}

}  // namespace detail

}  // namespace multistore
