#include "multistore/sqlite/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace multistore::sqlite {

namespace {

using file_key = std::pair<std::uint64_t, std::uint64_t>;  // device, inode

struct held_files {
  std::mutex mutex;
  std::set<file_key> keys;
};

// Never destroyed: a lock may be released during static destruction.
held_files& held_table() {
  static auto* instance = new held_files;
  return *instance;
}

error in_use(const std::filesystem::path& file, std::string_view store_id) {
  return error{errc::load_failed, "store '" + std::string{store_id}
                                      + "' is in use: another open store (in this or another "
                                        "process) holds the lock on "
                                      + file.string()};
}

error system_error(const char* what, const std::filesystem::path& file, int err) {
  return multistore::system_error(errc::load_failed, std::string{what} + " " + file.string(),
                                  err);
}

}  // namespace

result<file_lock> file_lock::acquire(const std::filesystem::path& file,
                                     std::string_view store_id) {
  auto& table = held_table();
  std::lock_guard guard{table.mutex};
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0
      && table.keys.contains({static_cast<std::uint64_t>(st.st_dev),
                              static_cast<std::uint64_t>(st.st_ino)}))
    return tl::unexpected(in_use(file, store_id));

  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return tl::unexpected(system_error("cannot open", file, errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return tl::unexpected(in_use(file, store_id));
    return tl::unexpected(system_error("cannot lock", file, err));
  }
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return tl::unexpected(system_error("cannot stat", file, err));
  }
  file_lock lock;
  lock.fd_ = fd;
  lock.device_ = static_cast<std::uint64_t>(st.st_dev);
  lock.inode_ = static_cast<std::uint64_t>(st.st_ino);
  table.keys.insert({lock.device_, lock.inode_});
  return lock;
}

file_lock::file_lock(file_lock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), device_(other.device_), inode_(other.inode_) {}

file_lock& file_lock::operator=(file_lock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    device_ = other.device_;
    inode_ = other.inode_;
  }
  return *this;
}

void file_lock::release() noexcept {
  if (fd_ < 0)
    return;
  auto& table = held_table();
  std::lock_guard guard{table.mutex};
  ::close(std::exchange(fd_, -1));  // closing drops the flock
  table.keys.erase({device_, inode_});
}

}  // namespace multistore::sqlite
