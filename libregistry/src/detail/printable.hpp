#pragma once

#include <string>
#include <string_view>

namespace multistore::detail {

/// Shows text from a file or a caller in a message without letting control
/// bytes or a huge input through: printable ASCII as is, anything else (and
/// quotes and backslashes) as \xNN, cut after 40 bytes with "...".
std::string printable(std::string_view text);

}  // namespace multistore::detail
