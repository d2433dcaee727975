#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "multistore/errors.hpp"

namespace multistore::sqlite {

/// The one-writer guarantee of a file store: an exclusive `flock` on the
/// database file, taken before SQLite opens it and held until the store has
/// closed it.
///
///     auto lock = sqlite::file_lock::acquire(dir / "issue-42.sqlite", "issue-42");
///     if (!lock) return forward_error(lock);   // load_failed: "... is in use"
///     auto db = sqlite::connection::open_file(dir / "issue-42.sqlite");
///     ...
///     db->close();
///     lock->release();                                   // or let it go out of scope
///
/// The kernel drops the lock with the process, so a crashed owner never blocks
/// a restart. flock locks belong to the open file description, so they also
/// conflict inside one process; a process-wide table of held files answers
/// that case before any descriptor is opened, because closing a second
/// descriptor of a file would silently drop the POSIX locks SQLite holds on
/// it. Thread-safe: acquire and release may run on any thread.
class file_lock {
 public:
  /// Opens (creating when missing) `file` and locks it, or returns
  /// `errc::load_failed` saying that store `store_id` is in use.
  static result<file_lock> acquire(const std::filesystem::path& file, std::string_view store_id);

  file_lock() noexcept = default;
  file_lock(file_lock&& other) noexcept;
  file_lock& operator=(file_lock&& other) noexcept;
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  ~file_lock() { release(); }

  bool held() const noexcept { return fd_ >= 0; }
  /// Unlocks and closes the descriptor. Idempotent.
  void release() noexcept;

 private:
  int fd_ = -1;
  std::uint64_t device_ = 0;
  std::uint64_t inode_ = 0;
};

}  // namespace multistore::sqlite
