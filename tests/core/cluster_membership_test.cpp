#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "multistore/membership.hpp"

using multistore::peer_phase;
using multistore::peer_state;
using namespace std::chrono_literals;

namespace {

const peer_state::time_point t0{std::chrono::hours{1}};

// Fails attempts as soon as they are due and returns the waits between them.
std::vector<std::chrono::milliseconds> failed_waits(peer_state& peer, peer_state::time_point& now,
                                                    int count) {
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < count; ++i) {
    now = peer.next_attempt();
    REQUIRE(peer.attempt_due(now));
    peer.attempting(now);
    REQUIRE(peer.attempt_failed(now));
    waits.push_back(
        std::chrono::duration_cast<std::chrono::milliseconds>(peer.next_attempt() - now));
  }
  return waits;
}

}  // namespace

TEST_CASE("every peer_phase value has a name", "[cluster][membership]") {
  CHECK(multistore::to_string(peer_phase::connecting) == "connecting");
  CHECK(multistore::to_string(peer_phase::up) == "up");
  CHECK(multistore::to_string(peer_phase::down) == "down");
  CHECK(multistore::to_string(static_cast<peer_phase>(0)) == "unknown");
  CHECK(multistore::to_string(static_cast<peer_phase>(200)) == "unknown");
}

TEST_CASE("a new peer is down with an attempt due at once", "[cluster][membership]") {
  peer_state peer{t0};
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.since() == t0);
  CHECK(peer.next_attempt() == t0);
  CHECK(peer.attempt_due(t0));
  CHECK(peer.attempts() == 0);
  CHECK(peer.current_backoff() == 100ms);
}

TEST_CASE("a peer goes connecting then up on an accepted hello", "[cluster][membership]") {
  peer_state peer{t0};
  peer.attempting(t0 + 1ms);
  CHECK(peer.phase() == peer_phase::connecting);
  CHECK(peer.since() == t0 + 1ms);
  CHECK(peer.attempts() == 1);
  CHECK_FALSE(peer.attempt_due(t0 + 10s));  // connecting, not down

  CHECK(peer.hello_accepted(t0 + 5ms));
  CHECK(peer.phase() == peer_phase::up);
  CHECK(peer.since() == t0 + 5ms);
  CHECK(peer.attempts() == 0);
  CHECK_FALSE(peer.attempt_due(t0 + 10s));
}

TEST_CASE("failed attempts back off 100 200 400 800 then 1000 ms", "[cluster][membership]") {
  peer_state peer{t0};
  auto now = t0;
  auto waits = failed_waits(peer, now, 7);
  CHECK(waits == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms,
                                                        1000ms});
  CHECK(peer.attempts() == 7);
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.since() == now);
}

TEST_CASE("an attempt is due exactly at next_attempt and not before", "[cluster][membership]") {
  peer_state peer{t0};
  peer.attempting(t0);
  REQUIRE(peer.attempt_failed(t0 + 30ms));
  CHECK(peer.next_attempt() == t0 + 130ms);
  CHECK_FALSE(peer.attempt_due(t0 + 30ms));
  CHECK_FALSE(peer.attempt_due(t0 + 129ms));
  CHECK(peer.attempt_due(t0 + 130ms));
  CHECK(peer.attempt_due(t0 + 5s));
}

TEST_CASE("the backoff starts again after the link was up", "[cluster][membership]") {
  peer_state peer{t0};
  auto now = t0;
  failed_waits(peer, now, 5);
  REQUIRE(peer.current_backoff() == 1000ms);

  now = peer.next_attempt();
  peer.attempting(now);
  REQUIRE(peer.hello_accepted(now + 2ms));
  CHECK(peer.current_backoff() == 100ms);

  now += 1min;
  REQUIRE(peer.lost(now));
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.since() == now);
  CHECK(peer.next_attempt() == now + 100ms);  // the first retry comes soon
  CHECK(peer.attempts() == 0);
  CHECK(failed_waits(peer, now, 4)
        == std::vector<std::chrono::milliseconds>{200ms, 400ms, 800ms, 1000ms});
}

TEST_CASE("a connection lost while connecting counts as a failed attempt",
          "[cluster][membership]") {
  peer_state peer{t0};
  peer.attempting(t0);
  REQUIRE(peer.lost(t0 + 3ms));
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.next_attempt() == t0 + 103ms);
  CHECK(peer.current_backoff() == 200ms);
}

TEST_CASE("late events that do not fit the phase are ignored", "[cluster][membership]") {
  peer_state peer{t0};
  // Down: no hello, failure or loss applies.
  CHECK_FALSE(peer.hello_accepted(t0 + 1ms));
  CHECK_FALSE(peer.attempt_failed(t0 + 1ms));
  CHECK_FALSE(peer.lost(t0 + 1ms));
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.since() == t0);
  CHECK(peer.next_attempt() == t0);
  CHECK(peer.current_backoff() == 100ms);

  // An attempt that timed out answers after all: its hello is too late.
  peer.attempting(t0);
  REQUIRE(peer.attempt_failed(t0 + 500ms));
  CHECK_FALSE(peer.hello_accepted(t0 + 501ms));
  CHECK(peer.phase() == peer_phase::down);
  CHECK(peer.next_attempt() == t0 + 600ms);

  // Up: a failure report from an earlier attempt is too late too.
  peer.attempting(t0 + 600ms);
  REQUIRE(peer.hello_accepted(t0 + 610ms));
  CHECK_FALSE(peer.attempt_failed(t0 + 620ms));
  CHECK_FALSE(peer.hello_accepted(t0 + 630ms));
  CHECK(peer.phase() == peer_phase::up);
  CHECK(peer.since() == t0 + 610ms);

  // A loss reported twice changes the state once.
  REQUIRE(peer.lost(t0 + 1s));
  CHECK_FALSE(peer.lost(t0 + 2s));
  CHECK(peer.since() == t0 + 1s);
  CHECK(peer.next_attempt() == t0 + 1100ms);
}

TEST_CASE("a peer reachable again is reconnected within the longest backoff",
          "[cluster][membership]") {
  peer_state peer{t0};
  auto now = t0;
  failed_waits(peer, now, 20);  // down for a long time
  // Reachable from just after the last failure: the next attempt succeeds.
  auto reachable = now + 1ms;
  CHECK(peer.next_attempt() - reachable <= multistore::backoff_policy{}.max);
  now = peer.next_attempt();
  peer.attempting(now);
  CHECK(peer.hello_accepted(now + 20ms));
}

TEST_CASE("a custom backoff policy doubles up to its own max", "[cluster][membership]") {
  peer_state peer{t0, multistore::backoff_policy{.initial = 50ms, .max = 300ms}};
  auto now = t0;
  CHECK(failed_waits(peer, now, 5)
        == std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 300ms, 300ms});
}

TEST_CASE("a peer that dials in comes up from down or connecting, not twice",
          "[cluster][membership]") {
  peer_state peer{t0};
  auto now = t0;
  failed_waits(peer, now, 3);
  REQUIRE(peer.phase() == multistore::peer_phase::down);
  CHECK(peer.dialed_in(now + 1ms));  // while backing off: no wait for our own attempt
  CHECK(peer.phase() == multistore::peer_phase::up);
  CHECK(peer.attempts() == 0);
  CHECK_FALSE(peer.dialed_in(now + 2ms));
  CHECK(peer.lost(now + 3ms));
  peer.attempting(peer.next_attempt());
  CHECK(peer.dialed_in(peer.next_attempt() + 1ms));
  CHECK(peer.current_backoff() == multistore::backoff_policy{}.initial);
}
