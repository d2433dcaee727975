// Fuzzes store id validation with arbitrary bytes.
//
// An id names a file, so the rule must hold for every input: valid exactly
// when 1..120 characters of [A-Za-z0-9_-]; `parse_store_id` agrees with
// `is_valid_store_id`, returns the input unchanged when valid, and otherwise
// fails with `invalid_store_id` and a message that is non-empty, bounded and
// printable ASCII (it quotes the id, which may hold any byte).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "multistore/store_id.hpp"

namespace {

/// Aborts with `what` when `ok` is false; libFuzzer saves the input.
void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "store_id invariant broken: %s\n", what);
    std::abort();
  }
}

/// The rule written out independently of the library.
bool expected_valid(std::string_view id) {
  if (id.empty() || id.size() > 120)
    return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

bool printable_ascii(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view id{reinterpret_cast<const char*>(data), size};
  const bool valid = multistore::is_valid_store_id(id);
  require(valid == expected_valid(id), "is_valid_store_id disagrees with the rule");

  const auto parsed = multistore::parse_store_id(id);
  require(parsed.has_value() == valid, "parse_store_id disagrees with is_valid_store_id");
  if (parsed) {
    require(*parsed == id, "a valid id is not returned unchanged");
    return 0;
  }
  const auto& err = parsed.error();
  require(err.code == multistore::errc::invalid_store_id, "a parse error is not invalid_store_id");
  require(!err.message.empty(), "a parse error has an empty message");
  // The id is shown cut after 40 bytes, each at most 4 characters (\xNN).
  require(err.message.size() <= 400, "a parse error message grows with the input");
  require(printable_ascii(err.message), "a parse error message holds raw control or 8-bit bytes");
  return 0;
}
