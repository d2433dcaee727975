#include "multistore/process_usage.hpp"

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace multistore {

std::uint64_t resident_bytes() noexcept {
  try {
    std::ifstream statm{"/proc/self/statm"};
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident))
      return 0;
    const long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? resident * static_cast<std::uint64_t>(page) : 0;
  } catch (...) {
    return 0;
  }
}

std::size_t open_file_descriptors() noexcept {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator{"/proc/self/fd", ec};
       !ec && it != std::filesystem::directory_iterator{}; it.increment(ec))
    ++n;
  return n;  // the iterator's own descriptor is closed again by now
}

}  // namespace multistore
