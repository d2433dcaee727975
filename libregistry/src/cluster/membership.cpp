#include "multistore/membership.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cinttypes>
#include <cstdio>

#include "multistore/placement.hpp"

namespace multistore {

std::string_view to_string(peer_phase phase) noexcept {
  switch (phase) {
    case peer_phase::connecting: return "connecting";
    case peer_phase::up: return "up";
    case peer_phase::down: return "down";
  }
  return "unknown";
}

peer_state::peer_state(time_point now, backoff_policy policy) noexcept
    : policy_(policy), since_(now), next_attempt_(now), backoff_(policy.initial) {
  assert(policy.initial.count() > 0 && policy.max >= policy.initial);
}

bool peer_state::attempt_due(time_point now) const noexcept {
  return phase_ == peer_phase::down && now >= next_attempt_;
}

void peer_state::attempting(time_point now) noexcept {
  assert(attempt_due(now));
  enter(peer_phase::connecting, now);
  ++attempts_;
}

bool peer_state::hello_accepted(time_point now) noexcept {
  if (phase_ != peer_phase::connecting)
    return false;
  come_up(now);
  return true;
}

void peer_state::come_up(time_point now) noexcept {
  enter(peer_phase::up, now);
  backoff_ = policy_.initial;
  attempts_ = 0;
}

bool peer_state::dialed_in(time_point now) noexcept {
  if (phase_ == peer_phase::up)
    return false;
  come_up(now);
  return true;
}

bool peer_state::attempt_failed(time_point now) noexcept {
  if (phase_ != peer_phase::connecting)
    return false;
  back_off(now);
  return true;
}

bool peer_state::lost(time_point now) noexcept {
  switch (phase_) {
    case peer_phase::up:
      // backoff_ is `initial` since the hello: the first retry comes soon.
      back_off(now);
      return true;
    case peer_phase::connecting:
      back_off(now);
      return true;
    case peer_phase::down:
      break;
  }
  return false;
}

void peer_state::enter(peer_phase phase, time_point now) noexcept {
  phase_ = phase;
  since_ = now;
}

void peer_state::back_off(time_point now) noexcept {
  enter(peer_phase::down, now);
  next_attempt_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, policy_.max);
}

namespace {

std::string hex(std::uint64_t value) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%016" PRIx64, value);
  return buf.data();
}

std::string member_list(const std::vector<cluster_member>& members) {
  std::string out;
  for (const auto& m : members) {
    if (!out.empty())
      out += ", ";
    out += m.name;
  }
  return out;
}

}  // namespace

hello make_hello(const cluster_options& ours) {
  return hello{ours.name, member_digest(ours.members), cluster_protocol_version, ours.self};
}

result<void> check_hello(const hello& theirs, const cluster_options& ours,
                         std::string_view expected_peer) {
  auto refuse = [](std::string message) { return fail(errc::invalid_options, std::move(message)); };
  // What a peer sends is shown only once it is known to be a plain name.
  if (!is_valid_member_name(theirs.member))
    return refuse("a node introduced itself with a name that is not a member name (1 to 64 of "
                  "A-Z a-z 0-9 _ -); refused");
  const auto node = "node '" + theirs.member + "'";
  if (theirs.cluster != ours.name) {
    if (!is_valid_cluster_name(theirs.cluster))
      return refuse(node + " belongs to a cluster with an invalid name, this node to '" + ours.name
                    + "'");
    return refuse(node + " belongs to cluster '" + theirs.cluster + "', this node to '"
                  + ours.name + "'");
  }
  if (theirs.protocol_version != cluster_protocol_version)
    return refuse(node + " speaks cluster protocol version "
                  + std::to_string(theirs.protocol_version) + ", this node version "
                  + std::to_string(cluster_protocol_version)
                  + "; run the same release on every node");
  if (theirs.member == ours.self)
    return refuse(node + " has this node's own name: two nodes are configured as '" + ours.self
                  + "', or this node reached itself");
  if (find_member(ours, theirs.member) == nullptr)
    return refuse(node + " is not a member of cluster '" + ours.name + "' (members: "
                  + member_list(ours.members) + ")");
  if (!expected_peer.empty() && theirs.member != expected_peer)
    return refuse("the address of member '" + std::string{expected_peer} + "' answered as " + node
                  + "; check the hosts and ports in the cluster file");
  if (auto digest = member_digest(ours.members); theirs.members_digest != digest)
    return refuse(node + " has another member list (digest " + hex(theirs.members_digest)
                  + ", this node's " + hex(digest) + "); every node needs the same members");
  return {};
}

}  // namespace multistore
