#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "multistore/errors.hpp"

namespace multistore {

/// One node of a cluster: its name (what `owner_of` returns) and where its
/// middleman listens.
struct cluster_member {
  std::string name;
  std::string host;
  std::uint16_t port;

  friend bool operator==(const cluster_member&, const cluster_member&) = default;
};

/// The configuration of a cluster as one node sees it. Every node holds the
/// same `name` and `members` (nodes compare a digest of the list when they
/// meet); only `self` differs.
///
///     auto opts = multistore::read_cluster_file("/etc/app/cluster.conf", "beta");
///     if (!opts) throw multistore::store_error{opts.error()};
struct cluster_options {
  /// A node of another cluster is refused.
  std::string name;
  /// The seed list, identical on every node.
  std::vector<cluster_member> members;
  /// This node's name in `members`.
  std::string self;
  /// All three set: mutual TLS; all empty: plain TCP.
  std::filesystem::path certificate, key, ca;

  friend bool operator==(const cluster_options&, const cluster_options&) = default;
};

/// Whether a member is reachable, as this node sees it, and since when.
struct member_status {
  std::string name;
  bool up;
  std::chrono::system_clock::time_point since;

  friend bool operator==(const member_status&, const member_status&) = default;
};

/// The longest member or cluster name accepted.
inline constexpr std::size_t max_cluster_name_length = 64;

/// The longest line a cluster file may hold, in bytes, not counting its end.
inline constexpr std::size_t max_cluster_line_length = 4096;

/// The largest cluster file `read_cluster_file` reads.
inline constexpr std::size_t max_cluster_file_size = 1024 * 1024;

/// True when `name` is 1..64 characters of [A-Za-z0-9_-] and not one of the
/// file's keywords `cluster` and `tls`. Such a name prints safely in logs and
/// messages.
bool is_valid_member_name(std::string_view name) noexcept;

/// True when `name` is 1..64 characters of [A-Za-z0-9_-].
bool is_valid_cluster_name(std::string_view name) noexcept;

/// Reads and parses a cluster file (see `parse_cluster_file`); relative TLS
/// paths are taken relative to the file's directory. A file that cannot be
/// read is `errc::invalid_options` with the system's reason; a message about
/// the content names the file and the line.
result<cluster_options> read_cluster_file(const std::filesystem::path& file, std::string self);

/// Parses the text of a cluster file, for the node named `self`:
///
///     # the cluster's name: a node configured with another one is refused
///     cluster orders
///     # optional, mutual TLS: certificate, key, CA (relative: to base_dir)
///     tls certs/node.pem certs/node.key certs/ca.pem
///     # every other line is a member: name host port
///     alpha 10.0.0.1 4100
///     beta  10.0.0.2 4100
///
/// `#` starts a comment that runs to the end of the line; blank lines are
/// ignored; tokens are separated by spaces or tabs (so a path holds neither,
/// nor `#`). A line may end in CR LF. Anything else is `errc::invalid_options`
/// naming the 1-based line and what to change: wrong token counts, unknown
/// keywords, names that are not 1..64 of A-Z a-z 0-9 _ - (or are `cluster`
/// or `tls`), hosts outside A-Z a-z 0-9 . - :, ports not in 1..65535, a
/// member name or host:port given twice, a second `cluster` or `tls` line,
/// control characters, lines over 4096 bytes; and a file with no `cluster`
/// line, no members, or without `self` among them.
result<cluster_options> parse_cluster_file(std::string_view text, std::string self,
                                           const std::filesystem::path& base_dir = {});

/// Checks options built in code by the rules `parse_cluster_file` applies,
/// plus: the three TLS paths are all set or all empty.
result<void> validate(const cluster_options& opts);

/// The member called `name`, or null.
const cluster_member* find_member(const cluster_options& opts, std::string_view name);

/// Whether the nodes talk over mutual TLS (all three paths set).
bool uses_tls(const cluster_options& opts);

}  // namespace multistore
