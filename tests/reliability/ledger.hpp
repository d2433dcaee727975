#pragma once

// The schema of the durability tests and of the crash child: every commit is a
// batch of 1..5 `entry_added` events that name their batch, their position in
// it and the batch size, so a reopened log shows whether each batch is whole.

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "multistore/schema.hpp"

namespace ledger {

struct entry_added {
  static constexpr std::string_view name = "entry_added";
  std::string batch;  ///< unique per commit, e.g. "t2-17"
  std::int64_t index = 0;
  std::int64_t size = 0;
  std::int64_t amount = 0;
  std::string note;  ///< padding of varying length, sometimes several pages
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(entry_added, batch, index, size, amount, note)

inline void define_ledger(multistore::schema_builder& b) {
  b.table("entries",
          "CREATE TABLE entries (batch TEXT NOT NULL, idx INTEGER NOT NULL, amount INTEGER NOT "
          "NULL, note TEXT NOT NULL, PRIMARY KEY (batch, idx))");
  b.table("totals",
          "CREATE TABLE totals (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, n INTEGER NOT "
          "NULL)");
  b.materialize<entry_added>([](const entry_added& e, multistore::sql_writer& w) {
    w.exec("INSERT INTO entries (batch, idx, amount, note) VALUES (?, ?, ?, ?)", e.batch, e.index,
           e.amount, e.note);
    w.exec("INSERT INTO totals (id, total, n) VALUES (1, ?, 1) ON CONFLICT (id) DO UPDATE SET "
           "total = total + excluded.total, n = n + 1",
           e.amount);
  });
}

struct ledger_schema {
  static constexpr std::string_view name = "ledger";
  using events = multistore::event_list<entry_added>;
  static void define(multistore::schema_builder& b) { define_ledger(b); }
};

/// The same schema under another version: opening a store with it rebuilds the
/// state tables by replaying the log.
struct ledger_schema_v2 {
  static constexpr std::string_view name = "ledger";
  static constexpr int version = 2;
  using events = multistore::event_list<entry_added>;
  static void define(multistore::schema_builder& b) { define_ledger(b); }
};

/// A batch of `size` events named `batch`, with random amounts and notes.
inline std::vector<entry_added> make_batch(const std::string& batch, std::int64_t size,
                                           std::mt19937_64& rng) {
  std::vector<entry_added> out;
  for (std::int64_t i = 0; i < size; ++i) {
    entry_added e;
    e.batch = batch;
    e.index = i;
    e.size = size;
    e.amount = static_cast<std::int64_t>(rng() % 2001) - 1000;
    // Mostly short notes, sometimes longer than a page (overflow pages).
    auto length = rng() % 16 == 0 ? 3000 + rng() % 6000 : rng() % 200;
    e.note.assign(length, static_cast<char>('a' + rng() % 26));
    out.push_back(std::move(e));
  }
  return out;
}

/// Commits `batch` (1..5 events) through anything with a variadic typed
/// commit (a store_handle, a store<S>); returns the last sequence number.
template <class Handle>
std::uint64_t commit_batch(Handle& h, const std::vector<entry_added>& b) {
  switch (b.size()) {
    case 1: return h.commit(b[0]);
    case 2: return h.commit(b[0], b[1]);
    case 3: return h.commit(b[0], b[1], b[2]);
    case 4: return h.commit(b[0], b[1], b[2], b[3]);
    case 5: return h.commit(b[0], b[1], b[2], b[3], b[4]);
    default: throw std::invalid_argument("commit_batch takes 1 to 5 events");
  }
}

/// An acknowledged commit: the sequence number of its last event and its size.
struct ack {
  std::uint64_t last_seq = 0;
  std::int64_t size = 0;
};

/// What the writers of one store know about their commits.
struct outcomes {
  std::map<std::string, ack> acked;   ///< by batch id
  std::set<std::string> failed;       ///< commits that answered with an error
};

/// What `check_store` found.
struct report {
  std::size_t events = 0;
  std::size_t batches = 0;
  std::size_t unacknowledged = 0;  ///< whole batches in the log nobody heard of
  std::vector<std::string> problems;
};

/// Reopens `<dir>/<id>.sqlite` and checks the promises of a crash-safe store:
/// - the log's sequence numbers run 1..head without a gap;
/// - every batch in the log is whole (all its events, consecutive, in order),
///   so an unacknowledged commit is either fully present or fully absent;
/// - every acknowledged batch is present at the sequence number it was
///   acknowledged with, and every failed one is absent;
/// - the state tables equal a replay of the log computed here, and equal what
///   the engine rebuilds from the log on a copy whose state was wiped.
/// `scratch` is an empty directory for the copy.
report check_store(const std::filesystem::path& dir, const std::string& id,
                   const outcomes& known, const std::filesystem::path& scratch);

}  // namespace ledger
