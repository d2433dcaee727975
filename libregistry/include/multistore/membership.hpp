#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "multistore/cluster_config.hpp"
#include "multistore/errors.hpp"

namespace multistore {

/// Where this node's link to one peer stands.
enum class peer_phase : std::uint8_t {
  /// A connection attempt is under way: connecting, or waiting for the hello.
  connecting = 1,
  /// The peer answered with an accepted hello; calls to its stores go through.
  up,
  /// No link; the next attempt is at `peer_state::next_attempt()`.
  down,
};

/// The enumerator's name, e.g. "connecting"; "unknown" for a value outside
/// the enumeration.
std::string_view to_string(peer_phase phase) noexcept;

/// How long a node waits between failed attempts to reach a peer: `initial`
/// after the first failure, doubling after each further one, never more than
/// `max`.
struct backoff_policy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{1000};

  friend bool operator==(const backoff_policy&, const backoff_policy&) = default;
};

/// The link to one peer as a state machine on time passed in (it reads no
/// clock): the CAF layer feeds it what happened and asks it when to dial.
///
///     multistore::peer_state peer{now};
///     if (peer.attempt_due(now)) { peer.attempting(now); /* connect, send hello */ }
///     // later, on the peer's hello:      peer.hello_accepted(now);
///     // on a failed connect or timeout:  peer.attempt_failed(now);
///     // on the connection going away:    peer.lost(now);
///
/// A peer starts `down` with an attempt due at once. While it stays
/// unreachable the attempts are `initial`, 2 x `initial`, ... apart, capped at
/// `max`; a link that was up and is lost is retried `initial` after the loss.
/// So with the default policy a peer that becomes reachable again is
/// reconnected within about 1 s (the longest wait) plus one connect and hello.
///
/// An event that does not apply to the current phase (a hello or failure
/// report from an attempt already given up, a loss of a link already down) is
/// ignored and the event returns false: messages can arrive late.
///
/// Not thread-safe: one owner (an actor) drives it.
class peer_state {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  /// A peer not yet tried: `down`, with an attempt due at `now`.
  explicit peer_state(time_point now, backoff_policy policy = {}) noexcept;

  peer_phase phase() const noexcept { return phase_; }

  /// When the phase last changed (construction counts).
  time_point since() const noexcept { return since_; }

  /// When the next attempt is due; meaningful while `down`.
  time_point next_attempt() const noexcept { return next_attempt_; }

  /// The attempts started since the link was last up (or since construction).
  std::size_t attempts() const noexcept { return attempts_; }

  /// The wait after the next failure.
  std::chrono::milliseconds current_backoff() const noexcept { return backoff_; }

  /// True when `down` and `now` has reached `next_attempt()`.
  bool attempt_due(time_point now) const noexcept;

  /// An attempt starts: down -> connecting. `attempt_due(now)` must hold.
  void attempting(time_point now) noexcept;

  /// The peer's hello was accepted: connecting -> up; the backoff starts
  /// again from `initial`. False (and nothing changes) unless connecting.
  bool hello_accepted(time_point now) noexcept;

  /// The peer dialed us and its hello was accepted: down or connecting ->
  /// up, as `hello_accepted`. (A link is one connection, used both ways: the
  /// member whose name sorts first dials, the other waits for it.) False
  /// (and nothing changes) when already up.
  bool dialed_in(time_point now) noexcept;

  /// The attempt failed (refused, timed out, hello rejected): connecting ->
  /// down, the next attempt after the current backoff, which then doubles up
  /// to `max`. False (and nothing changes) unless connecting.
  bool attempt_failed(time_point now) noexcept;

  /// The link went away. From up: down, the first retry `initial` after
  /// `now`. From connecting: as `attempt_failed`. False (and nothing changes)
  /// when already down.
  bool lost(time_point now) noexcept;

 private:
  void enter(peer_phase phase, time_point now) noexcept;
  void come_up(time_point now) noexcept;
  void back_off(time_point now) noexcept;

  backoff_policy policy_;
  peer_phase phase_ = peer_phase::down;
  time_point since_;
  time_point next_attempt_;
  std::chrono::milliseconds backoff_;
  std::size_t attempts_ = 0;
};

/// The version of the messages nodes exchange; a node speaking another one is
/// refused at the hello.
inline constexpr std::uint32_t cluster_protocol_version = 1;

/// What a node says about itself when it meets a peer.
struct hello {
  /// `cluster_options::name`.
  std::string cluster;
  /// `member_digest` of its member list.
  std::uint64_t members_digest;
  std::uint32_t protocol_version;
  /// Its own name, `cluster_options::self`.
  std::string member;

  friend bool operator==(const hello&, const hello&) = default;
};

/// This node's hello.
hello make_hello(const cluster_options& ours);

/// Whether a peer's hello may join: same cluster name, same member list
/// (digest), same protocol version, a member of ours that is not this node,
/// and `expected_peer` when given (the member this node dialled). Otherwise
/// `errc::invalid_options` saying which and with both sides' values.
result<void> check_hello(const hello& theirs, const cluster_options& ours,
                         std::string_view expected_peer = {});

}  // namespace multistore
