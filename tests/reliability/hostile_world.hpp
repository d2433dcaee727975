#pragma once

// What every hostile-input case runs in: a registry on the real scheduler,
// a storage directory inside a private temporary root, and a bystander store
// opened before the hostile input arrives. `check_unharmed()` asserts the two
// promises every case shares: nothing appeared or changed outside the storage
// directories, and the bystander still commits and queries.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "multistore/actor_api.hpp"
#include "multistore/multistore.hpp"
#include "schemas.hpp"
#include "temp_dir.hpp"

namespace hostile {

namespace fs = std::filesystem;
using multistore::errc;
using multistore::store_options;
using test_schemas::issue_created;
using test_schemas::issue_schema;

/// The uid and gid of `nobody` on Debian.
inline constexpr uid_t nobody_uid = 65534;
inline constexpr gid_t nobody_gid = 65534;

/// The file system identity (Linux fsuid/fsgid) of the calling thread, changed
/// for the guard's lifetime. File system ids are per thread, and a thread
/// inherits them from the thread that starts it: an actor system constructed
/// under this guard runs every worker as `nobody`, without root's power to
/// ignore file permissions, while the test thread gets root back.
class fs_identity {
 public:
  fs_identity(uid_t uid, gid_t gid)
      : old_gid_(static_cast<gid_t>(::setfsgid(gid))),
        old_uid_(static_cast<uid_t>(::setfsuid(uid))) {
    // An invalid id changes nothing and returns the current one.
    active_ = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == uid
              && static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == gid;
  }
  ~fs_identity() {
    ::setfsuid(old_uid_);
    ::setfsgid(old_gid_);
  }
  fs_identity(const fs_identity&) = delete;
  fs_identity& operator=(const fs_identity&) = delete;

  bool active() const noexcept { return active_; }

 private:
  gid_t old_gid_;
  uid_t old_uid_;
  bool active_ = false;
};

/// True when the calling thread cannot create a file in `dir`.
inline bool cannot_write(const fs::path& dir) {
  auto probe = dir / ".probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return true;
  ::close(fd);
  ::unlink(probe.c_str());
  return false;
}

/// The bytes of `p`; empty when it cannot be read.
inline std::string file_bytes(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec)
    return {};
  std::string out(static_cast<std::size_t>(size), '\0');
  std::ifstream in{p, std::ios::binary};
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return in ? out : std::string{};
}

/// Size and hash of a file's bytes: what a test compares (and prints).
inline std::string fingerprint(const fs::path& p) {
  auto bytes = file_bytes(p);
  return std::to_string(bytes.size()) + " bytes, hash "
         + std::to_string(std::hash<std::string>{}(bytes));
}

inline void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out{p, std::ios::binary | std::ios::trunc};
  out << bytes;
  REQUIRE(out.good());
}

/// `n` bytes that no file format starts with.
inline std::string garbage(std::size_t n, std::uint32_t seed = 1) {
  std::string out(n, '\0');
  std::uint32_t x = seed;
  for (auto& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

using multistore::store_error;

/// Runs `fn`, which must throw store_error, and returns it; fails the test
/// when `fn` returns or throws anything else.
template <class F>
std::optional<store_error> thrown_by(F&& fn) {
  try {
    fn();
  } catch (const store_error& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL_CHECK("threw " << typeid(e).name() << " instead of store_error: " << e.what());
    return std::nullopt;
  }
  FAIL_CHECK("did not throw");
  return std::nullopt;
}

class world {
 public:
  /// `enforce_permissions`: make sure the actor system's threads cannot
  /// write a directory without write permission. Root (or a process with
  /// CAP_DAC_OVERRIDE) can, so its threads then run under the file system
  /// identity of `nobody` (see fs_identity). `permissions_enforced()` says
  /// whether that worked.
  explicit world(bool enforce_permissions = false) : data_(root_.path() / "data") {
    fs::create_directories(data_);
    storage_dirs_.push_back(data_);
    multistore::configure(cfg_);
    if (enforce_permissions) {
      const auto probe_dir = root_.path() / "probe";
      fs::create_directories(probe_dir);
      fs::permissions(probe_dir, static_cast<fs::perms>(0555));
      if (cannot_write(probe_dir)) {
        enforced_ = true;
      } else {
        // Root-owned and r-x for others: `nobody` must fail to write it.
        fs::permissions(data_, static_cast<fs::perms>(0777));
        fs_identity as_nobody{nobody_uid, nobody_gid};
        if (!as_nobody.active()) {
          why_not_enforced_ = "setfsuid(nobody) did not take effect (no CAP_SETUID?)";
        } else if (!cannot_write(probe_dir)) {
          why_not_enforced_ = "the nobody identity can still write a r-x directory";
        } else {
          sys_ = std::make_unique<caf::actor_system>(cfg_);
          enforced_ = true;
        }
      }
      fs::permissions(probe_dir, static_cast<fs::perms>(0755));
      fs::remove(probe_dir);
    }
    if (!sys_)
      sys_ = std::make_unique<caf::actor_system>(cfg_);
    registry_ = std::make_unique<multistore::store_registry>(*sys_);
    bystander_ = registry_->use(file_store<issue_schema>("bystander"));
    commit_bystander();
    snapshot();
  }

  ~world() {
    bystander_.release();
    registry_.reset();
    sys_.reset();
  }

  world(const world&) = delete;
  world& operator=(const world&) = delete;

  const fs::path& root() const noexcept { return root_.path(); }
  const fs::path& data() const noexcept { return data_; }
  multistore::store_registry& registry() noexcept { return *registry_; }
  caf::actor_system& system() noexcept { return *sys_; }
  bool permissions_enforced() const noexcept { return enforced_; }
  const std::string& why_not_enforced() const noexcept { return why_not_enforced_; }

  template <class Schema>
  store_options<Schema> file_store(std::string id, const fs::path& dir = {}) const {
    return {.store_id = std::move(id),
            .storage = multistore::sqlite_adapter{dir.empty() ? data_ : dir}};
  }

  /// Waits until `store_id` is disposed and its file closed (give its last
  /// handle gc_time 0); unlike clear(), this leaves the bystander alone.
  void wait_disposed(const std::string& store_id) {
    auto closed = [&] {
      return registry_->inspect(store_id).state == multistore::store_state::disposed
             && registry_->stats().closing == 0;
    };
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (!closed() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    REQUIRE(closed());
  }

  /// Files under `dir` may change from now on (it is a storage directory).
  void add_storage_dir(const fs::path& dir) {
    storage_dirs_.push_back(dir);
    snapshot();
  }

  /// Remembers what lies outside the storage directories now.
  void snapshot() { outside_ = outside(); }

  /// Nothing appeared, vanished or changed size outside the storage
  /// directories, and the bystander store still commits and queries.
  void check_unharmed() {
    CHECK(outside() == outside_);
    commit_bystander();
    auto rows = bystander_.query("SELECT count(*) AS n FROM issues");
    CHECK(rows.at(0).at("n") == bystander_commits_);
  }

  /// The files of the storage directory, by name.
  std::vector<std::string> data_files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(data_))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  using listing = std::map<std::string, std::pair<int, std::uintmax_t>>;  // type, size

  listing outside() const {
    listing out;
    for (auto it = fs::recursive_directory_iterator(root_.path());
         it != fs::recursive_directory_iterator(); ++it) {
      const auto& p = it->path();
      bool storage = false;
      for (const auto& d : storage_dirs_)
        storage = storage || p == d;
      if (storage) {
        it.disable_recursion_pending();
        continue;
      }
      auto status = fs::symlink_status(p);
      std::uintmax_t size = fs::is_regular_file(status) ? fs::file_size(p) : 0;
      out[fs::relative(p, root_.path()).string()] = {static_cast<int>(status.type()), size};
    }
    return out;
  }

  void commit_bystander() {
    ++bystander_commits_;
    bystander_.commit(issue_created{"b" + std::to_string(bystander_commits_), "still serving"});
  }

  temp_dir root_;
  fs::path data_;
  std::vector<fs::path> storage_dirs_;
  listing outside_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<multistore::store_registry> registry_;
  multistore::store_handle<issue_schema> bystander_;
  int bystander_commits_ = 0;
  bool enforced_ = false;
  std::string why_not_enforced_;
};

/// Talks to the registry and store actors with raw messages.
class raw_client {
 public:
  explicit raw_client(world& w) : w_(w), self_(w.system()) {}

  /// (acquire_atom, request) → the store actor, or the error.
  template <class Schema>
  multistore::result<std::pair<caf::actor, std::uint64_t>> acquire(
      const store_options<Schema>& o) {
    return acquire_request(multistore::make_store_request(o, false));
  }

  multistore::result<std::pair<caf::actor, std::uint64_t>> acquire_request(
      multistore::store_request req) {
    multistore::result<std::pair<caf::actor, std::uint64_t>> out =
        multistore::fail(errc::cancelled, "no answer");
    self_->request(w_.registry().actor(), caf::infinite, multistore::acquire_atom::value,
                   std::move(req))
        .receive([&](caf::actor& store, std::uint64_t lease,
                     std::uint64_t) { out = std::make_pair(std::move(store), lease); },
                 [&](caf::error& err) {
                   out = tl::unexpected(multistore::to_error(err, errc::registry_closed));
                 });
    return out;
  }

  void release(std::uint64_t lease) {
    self_->send(w_.registry().actor(), multistore::release_atom::value, lease);
  }

  /// Sends `xs...` to `store` and returns the single answer value or error.
  template <class R, class... Ts>
  multistore::result<R> ask(const caf::actor& store, Ts&&... xs) {
    multistore::result<R> out = multistore::fail(errc::cancelled, "no answer");
    self_->request(store, caf::infinite, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& err) { out = tl::unexpected(multistore::to_error(err)); });
    return out;
  }

  multistore::result<std::uint64_t> commit(const caf::actor& store,
                                           std::vector<multistore::wire_event> events) {
    return ask<std::uint64_t>(store, multistore::commit_atom::value, std::move(events));
  }

  multistore::result<std::string> query(const caf::actor& store, std::string sql,
                                        std::string params = {}) {
    return ask<std::string>(store, multistore::query_atom::value, std::move(sql),
                            std::move(params));
  }

  /// The store's head sequence number (get_atom).
  std::uint64_t head(const caf::actor& store) {
    std::uint64_t out = 0;
    self_->request(store, caf::infinite, caf::get_atom::value)
        .receive([&](std::string&, std::uint64_t h) { out = h; },
                 [&](caf::error& err) { FAIL("get_atom failed: " << caf::to_string(err)); });
    return out;
  }

  caf::scoped_actor& self() noexcept { return self_; }

 private:
  world& w_;
  caf::scoped_actor self_;
};

}  // namespace hostile
