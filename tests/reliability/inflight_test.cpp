// Commits in flight while stores go away: clear(), the registry destructor and
// gc_time 0 disposal, on the real scheduler with real files. Afterwards every
// store is reopened: every acknowledged commit is there, every refused one is
// not, and every batch in the log is whole.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "ledger.hpp"
#include "multistore/actor_api.hpp"
#include "multistore/multistore.hpp"
#include "system_fixture.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using multistore::errc;
using multistore::store_error;
using ledger::ledger_schema;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t store_count = 3;

std::string store_name(std::size_t i) { return "s" + std::to_string(i); }

multistore::store_options<ledger_schema> file_ledger(const fs::path& dir, std::size_t i,
                                                     multistore::gc_duration gc) {
  return {.store_id = store_name(i), .storage = multistore::sqlite_adapter{dir}, .gc_time = gc};
}

/// What one writer saw; merged after the writers joined.
struct writer_record {
  std::map<std::string, ledger::outcomes> stores;
  std::vector<std::string> unexpected;
};

std::map<std::string, ledger::outcomes> merge(const std::vector<writer_record>& records) {
  std::map<std::string, ledger::outcomes> out;
  for (const auto& r : records)
    for (const auto& [id, o] : r.stores) {
      out[id].acked.insert(o.acked.begin(), o.acked.end());
      out[id].failed.insert(o.failed.begin(), o.failed.end());
    }
  return out;
}

/// Polls `done` until it holds or `limit` passed; generous limits only guard
/// against a hang, they are not timing assertions.
bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void check_all_stores(const temp_dir& tmp, const fs::path& dir,
                      const std::map<std::string, ledger::outcomes>& known) {
  std::size_t acked = 0, events = 0;
  for (std::size_t s = 0; s < store_count; ++s) {
    const auto id = store_name(s);
    auto it = known.find(id);
    const auto outcomes = it != known.end() ? it->second : ledger::outcomes{};
    auto r = ledger::check_store(dir, id, outcomes, tmp.path() / "replay");
    INFO("store " << id << ": " << outcomes.acked.size() << " acknowledged, "
                  << outcomes.failed.size() << " refused, " << r.events << " events");
    CHECK(r.problems == std::vector<std::string>{});
    CHECK(r.unacknowledged == 0);  // every blocking commit got an answer
    acked += outcomes.acked.size();
    events += r.events;
  }
  CHECK(acked > 0);
  CHECK(events > 0);
}

std::vector<multistore::wire_event> wire(const std::vector<ledger::entry_added>& events) {
  std::vector<multistore::wire_event> out;
  for (const auto& e : events)
    out.push_back({std::string{ledger::entry_added::name}, nlohmann::json(e).dump()});
  return out;
}

/// Acquires through the registry's message protocol; the caller releases.
std::pair<caf::actor, std::uint64_t> acquire_raw(caf::scoped_actor& self, const caf::actor& registry,
                                                 const multistore::store_options<ledger_schema>& o) {
  std::pair<caf::actor, std::uint64_t> out;
  self->request(registry, caf::infinite, multistore::acquire_atom::value,
                multistore::make_store_request(o, false))
      .receive([&](caf::actor& store, std::uint64_t lease,
                   std::uint64_t) { out = {std::move(store), lease}; },
               [&](caf::error& err) { FAIL("acquire failed: " << multistore::to_error(err).message); });
  return out;
}

}  // namespace

TEST_CASE("clear during commits keeps every acknowledged commit and none that was refused",
          "[reliability][inflight][clear]") {
  temp_dir tmp;
  const auto dir = tmp.path() / "stores";
  constexpr std::size_t threads = 4;
  std::vector<writer_record> records(threads);
  std::size_t failures = 0;
  {
    system_fixture s;
    multistore::store_registry registry{s.sys};
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> acks{0}, refused{0};
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937_64 rng{t + 1};
        std::map<std::size_t, multistore::store_handle<ledger_schema>> held;
        auto& rec = records[t];
        for (std::uint64_t n = 0; !stop; ++n) {
          const auto i = static_cast<std::size_t>(rng() % store_count);
          const auto size = static_cast<std::int64_t>(1 + rng() % 5);
          const auto batch = "t" + std::to_string(t) + "-" + std::to_string(n);
          const auto events = ledger::make_batch(batch, size, rng);
          auto& known = rec.stores[store_name(i)];
          try {
            std::uint64_t seq = 0;
            if (rng() % 3 == 0) {  // a fresh handle, disposed at once when released
              auto h = registry.use(file_ledger(dir, i, 0ms));
              seq = ledger::commit_batch(h, events);
            } else {
              auto& h = held[i];
              if (!h)
                h = registry.use(file_ledger(dir, i, 1s));
              seq = ledger::commit_batch(h, events);
            }
            known.acked[batch] = {seq, size};
            ++acks;
          } catch (const store_error& e) {
            known.failed.insert(batch);
            ++refused;
            if (e.code() != errc::store_disposed && e.code() != errc::cancelled)
              rec.unexpected.push_back(e.what());
            held.erase(i);
          }
        }
      });
    }
    const bool progressed = wait_until([&] { return acks >= 50; });
    for (int round = 0; progressed && round < 6; ++round) {
      const auto before = acks.load();
      registry.clear().get();
      CHECK(wait_until([&] { return acks >= before + 20; }));
    }
    stop = true;
    for (auto& w : writers)
      w.join();
    REQUIRE(progressed);
    failures = refused;
  }  // the registry destructor closed every store
  INFO(failures << " commits were refused by clear()");
  for (const auto& r : records)
    CHECK(r.unexpected == std::vector<std::string>{});
  check_all_stores(tmp, dir, merge(records));
}

TEST_CASE("the registry destructor lets commits in flight finish and acknowledges none after it",
          "[reliability][inflight][shutdown]") {
  temp_dir tmp;
  const auto dir = tmp.path() / "stores";
  constexpr std::size_t threads = 4;
  std::vector<writer_record> records(threads);
  {
    system_fixture s;
    auto registry = std::make_unique<multistore::store_registry>(s.sys);
    std::atomic<bool> destroyed{false};
    std::atomic<std::size_t> acks{0}, started{0};
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937_64 rng{t + 11};
        auto& rec = records[t];
        // Handles are taken before the destructor can run: nobody calls use()
        // on a registry being destroyed.
        std::vector<multistore::store_handle<ledger_schema>> handles;
        for (std::size_t i = 0; i < store_count; ++i)
          handles.push_back(registry->use(file_ledger(dir, i, 1s)));
        ++started;
        std::size_t live = handles.size();
        for (std::uint64_t n = 0; live > 0; ++n) {
          const auto i = static_cast<std::size_t>(rng() % store_count);
          if (!handles[i])
            continue;
          const auto size = static_cast<std::int64_t>(1 + rng() % 5);
          const auto batch = "t" + std::to_string(t) + "-" + std::to_string(n);
          const auto events = ledger::make_batch(batch, size, rng);
          auto& known = rec.stores[store_name(i)];
          const bool after_destructor = destroyed;
          try {
            auto seq = ledger::commit_batch(handles[i], events);
            known.acked[batch] = {seq, size};
            ++acks;
            if (after_destructor)
              rec.unexpected.push_back("batch " + batch + " was acknowledged after the "
                                       "registry destructor returned");
          } catch (const store_error& e) {
            known.failed.insert(batch);
            if (e.code() != errc::store_disposed)
              rec.unexpected.push_back(e.what());
            handles[i].release();
            --live;
          }
        }
      });
    }
    const bool progressed =
        wait_until([&] { return started == threads; }) && wait_until([&] { return acks >= 100; });
    registry.reset();
    destroyed = true;
    for (auto& w : writers)
      w.join();
    REQUIRE(progressed);
  }
  for (const auto& r : records)
    CHECK(r.unexpected == std::vector<std::string>{});
  check_all_stores(tmp, dir, merge(records));
}

TEST_CASE("commits queued at a store before registry shutdown are all acknowledged",
          "[reliability][inflight][shutdown]") {
  temp_dir tmp;
  const auto dir = tmp.path() / "stores";
  std::map<std::string, ledger::outcomes> known;
  constexpr int per_side = 40;
  {
    system_fixture s;
    multistore::store_registry registry{s.sys};
    caf::scoped_actor self{s.sys};
    std::vector<std::pair<caf::actor, std::uint64_t>> stores;
    for (std::size_t i = 0; i < store_count; ++i)
      stores.push_back(acquire_raw(self, registry.actor(), file_ledger(dir, i, 1s)));

    // Commits sent before the shutdown request reach each store's mailbox
    // before the registry's shutdown can; those sent after it race with it.
    std::mt19937_64 rng{42};
    struct sent {
      std::size_t store;
      std::string batch;
      std::int64_t size;
      bool before_shutdown;
    };
    std::vector<sent> commits;
    std::vector<std::function<void()>> receivers;
    auto request_commits = [&](bool before) {
      for (int k = 0; k < per_side; ++k) {
        for (std::size_t i = 0; i < store_count; ++i) {
          const auto size = static_cast<std::int64_t>(1 + rng() % 5);
          const auto batch = std::string{before ? "b" : "a"} + std::to_string(k);
          auto handle = self->request(stores[i].first, caf::infinite,
                                      multistore::commit_atom::value,
                                      wire(ledger::make_batch(batch, size, rng)));
          commits.push_back({i, batch, size, before});
          auto index = commits.size() - 1;
          receivers.push_back([&, handle, index]() mutable {
            const auto& c = commits[index];
            auto& k_known = known[store_name(c.store)];
            handle.receive(
                [&](std::uint64_t seq) { k_known.acked[c.batch] = {seq, c.size}; },
                [&](caf::error& err) {
                  k_known.failed.insert(c.batch);
                  auto e = multistore::to_error(err);
                  INFO("batch " << c.batch << ": " << e.message);
                  CHECK(e.code == errc::store_disposed);
                  CHECK_FALSE(c.before_shutdown);
                });
          });
        }
      }
    };
    request_commits(true);
    auto shutdown = self->request(registry.actor(), caf::infinite, multistore::shutdown_atom::value);
    request_commits(false);
    for (auto& r : receivers)
      r();
    shutdown.receive([](caf::ok_atom) {},
                     [](caf::error& err) { FAIL("shutdown failed: " << caf::to_string(err)); });
  }
  check_all_stores(tmp, dir, known);
}

TEST_CASE("gc_time 0 disposal with commits queued at the store loses no acknowledged commit",
          "[reliability][inflight][gc]") {
  temp_dir tmp;
  const auto dir = tmp.path() / "stores";
  std::map<std::string, ledger::outcomes> known;
  std::size_t refused = 0;
  {
    system_fixture s;
    multistore::store_registry registry{s.sys};
    caf::scoped_actor self{s.sys};
    std::mt19937_64 rng{7};
    for (int round = 0; round < 12; ++round) {
      const auto i = static_cast<std::size_t>(round) % store_count;
      auto& k_known = known[store_name(i)];
      auto [store, lease] = acquire_raw(self, registry.actor(), file_ledger(dir, i, 0ms));
      std::vector<std::function<void()>> receivers;
      auto request_commits = [&](int n) {
        for (int k = 0; k < n; ++k) {
          const auto size = static_cast<std::int64_t>(1 + rng() % 5);
          const auto batch = "r" + std::to_string(round) + "-" + std::to_string(receivers.size());
          auto handle = self->request(store, caf::infinite, multistore::commit_atom::value,
                                      wire(ledger::make_batch(batch, size, rng)));
          receivers.push_back([&, handle, batch, size]() mutable {
            handle.receive([&](std::uint64_t seq) { k_known.acked[batch] = {seq, size}; },
                           [&](caf::error& err) {
                             k_known.failed.insert(batch);
                             ++refused;
                             auto e = multistore::to_error(err);
                             INFO("batch " << batch << ": " << e.message);
                             CHECK(e.code == errc::store_disposed);
                           });
          });
        }
      };
      // The release disposes the store at once (gc_time 0) while commits
      // are queued in its mailbox and more keep coming.
      request_commits(20);
      self->send(registry.actor(), multistore::release_atom::value, lease);
      request_commits(40);
      for (auto& r : receivers)
        r();
    }
  }
  INFO(refused << " commits reached a disposed store");
  check_all_stores(tmp, dir, known);
}
