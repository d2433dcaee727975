#include "multistore/client_identity.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>

#include <unistd.h>

#include "multistore/store_id.hpp"

namespace multistore {

namespace {

std::string random_hex(std::size_t digits) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device device;
  std::mt19937_64 gen{(static_cast<std::uint64_t>(device()) << 32) ^ device()};
  std::string out(digits, '0');
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (i % 16 == 0)
      bits = gen();
    out[i] = hex[bits & 0xfU];
    bits >>= 4;
  }
  return out;
}

std::optional<std::string> read_id(const std::filesystem::path& file) {
  std::ifstream in{file};
  std::string id;
  if (!in || !std::getline(in, id) || !is_valid_store_id(id))
    return std::nullopt;
  return id;
}

tl::unexpected<error> io_failure(const std::string& what, const std::filesystem::path& file,
                                 int err) {
  return tl::unexpected(system_error(errc::load_failed, what + " " + file.string(), err));
}

}  // namespace

std::string make_random_id() { return random_hex(16); }

result<std::string> load_or_create_client_id(const std::filesystem::path& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec)
    return io_failure("cannot create directory", directory, ec.value());
  const auto file = directory / ".client-id";
  if (auto id = read_id(file))
    return *id;

  const auto id = random_hex(32);
  const auto temp = directory / (".client-id.tmp-" + random_hex(16));
  {
    std::ofstream out{temp, std::ios::trunc};
    out << id << '\n';
    out.flush();
    if (!out) {
      const int err = errno;
      return io_failure("cannot write", temp, err);
    }
  }
  // link() fails when the file exists: the first creator wins, others read its id.
  if (::link(temp.c_str(), file.c_str()) != 0 && errno != EEXIST) {
    const int err = errno;
    std::filesystem::remove(temp, ec);
    return io_failure("cannot create", file, err);
  }
  std::filesystem::remove(temp, ec);
  if (auto existing = read_id(file))
    return *existing;
  return fail(errc::load_failed,
              "cannot read " + file.string() + ": the file does not hold a valid client id");
}

}  // namespace multistore
