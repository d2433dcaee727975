#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace multistore {

/// Domain errors of multistore. Values start at 1 so that 0 stays "no error"
/// when the code travels as a CAF error category.
enum class errc : std::uint8_t {
  invalid_store_id = 1,
  invalid_options,
  schema_mismatch,
  load_failed,
  invalid_event,
  query_failed,
  storage_failed,
  store_disposed,
  cancelled,
  registry_closed,
  no_registry,
  /// A store holds `registry_options::max_pending_commits` commits not yet
  /// answered: this one was refused at once and nothing of it was written.
  overloaded,
  /// The store's owner node is down or unreachable (a cluster, DESIGN.md §8).
  /// A commit that fails with it may or may not have been committed: the
  /// owner may have written it before the link went away.
  unavailable,
};

/// The first and last enumerators, for code that walks every value.
inline constexpr errc errc_first = errc::invalid_store_id;
inline constexpr errc errc_last = errc::unavailable;

/// The enumerator's name, e.g. "invalid_store_id"; "unknown" for a value
/// outside the enumeration.
std::string_view to_string(errc code) noexcept;

/// An error value as the core returns it: a code plus a message a person can
/// act on ("store id 'a/b' may only contain A-Z a-z 0-9 _ -").
struct error {
  errc code;
  std::string message;

  friend bool operator==(const error&, const error&) = default;
};

/// The result of a fallible core function.
template <class T>
using result = tl::expected<T, error>;

/// Whether an errno value says the process or system ran out of file
/// descriptors (EMFILE, ENFILE).
bool out_of_descriptors(int err) noexcept;

/// A failed system call as an error: "<what>: <strerror>". Running out of
/// file descriptors is the process's resources, not the store's fault: it is
/// `storage_failed` whatever `code` says, and the message names it.
error system_error(errc code, std::string what, int err);

/// Shorthand for returning an error from a function returning `result<T>`.
inline tl::unexpected<error> fail(errc code, std::string message) {
  return tl::unexpected<error>(error{code, std::move(message)});
}

/// Passes the error of a failed `r` on from a function whose result type
/// differs (or is the same), moving it out of `r`:
///
///     auto st = db.prepare(sql, operation::open);
///     if (!st) return forward_error(st);
///
/// `r` must hold an error.
template <class T>
tl::unexpected<error> forward_error(result<T>& r) {
  return tl::unexpected<error>(std::move(r.error()));
}
/// As above, for a result that is not an lvalue to move from: copies the error.
template <class T>
tl::unexpected<error> forward_error(const result<T>& r) {
  return tl::unexpected<error>(r.error());
}

/// The exception the facade throws. `what()` reads "<code>: <message>".
class store_error : public std::runtime_error {
 public:
  store_error(errc code, const std::string& message);
  explicit store_error(const error& err);

  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

}  // namespace multistore
