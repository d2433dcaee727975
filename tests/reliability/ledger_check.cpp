#include "ledger.hpp"

#include <memory>
#include <utility>

#include <sqlite3.h>

#include "multistore/store_engine.hpp"

namespace fs = std::filesystem;

namespace ledger {

namespace {

struct logged_entry {
  std::uint64_t seq;
  entry_added event;
};

/// The state a replay of `log` must produce, in the shape queries return.
struct model {
  nlohmann::json entries = nlohmann::json::array();
  nlohmann::json totals = nlohmann::json::array();
};

model replay(const std::vector<logged_entry>& log) {
  std::map<std::pair<std::string, std::int64_t>, const entry_added*> rows;
  std::int64_t total = 0;
  for (const auto& l : log) {
    rows[{l.event.batch, l.event.index}] = &l.event;
    total += l.event.amount;
  }
  model m;
  for (const auto& [key, e] : rows)
    m.entries.push_back(
        {{"batch", e->batch}, {"idx", e->index}, {"amount", e->amount}, {"note", e->note}});
  if (!log.empty())
    m.totals.push_back({{"total", total}, {"n", static_cast<std::int64_t>(log.size())}});
  return m;
}

constexpr std::string_view entries_sql =
    "SELECT batch, idx, amount, note FROM entries ORDER BY batch, idx";
constexpr std::string_view totals_sql = "SELECT total, n FROM totals";

void compare_state(multistore::store_engine& engine, const model& expected,
                   const std::string& what, report& out) {
  auto entries = engine.query(entries_sql);
  auto totals = engine.query(totals_sql);
  if (!entries || !totals) {
    out.problems.push_back(what + ": state query failed: "
                           + (entries ? totals.error().message : entries.error().message));
    return;
  }
  if (*entries != expected.entries)
    out.problems.push_back(what + ": the entries table (" + std::to_string(entries->size())
                           + " rows) differs from a replay of the log ("
                           + std::to_string(expected.entries.size()) + " rows)");
  if (*totals != expected.totals)
    out.problems.push_back(what + ": totals " + totals->dump() + " differ from a replay of the log "
                           + expected.totals.dump());
}

/// Wipes the state tables of a closed store file with plain SQLite, so only a
/// replay of the log can bring them back.
bool wipe_state(const fs::path& file, std::string& why) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "DELETE FROM entries; DELETE FROM totals;", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  sqlite3_close_v2(db);
  return rc == SQLITE_OK;
}

}  // namespace

report check_store(const fs::path& dir, const std::string& id, const outcomes& known,
                   const fs::path& scratch) {
  report out;
  const auto file = dir / (id + ".sqlite");
  if (!fs::exists(file)) {
    if (!known.acked.empty())
      out.problems.push_back("store " + id + ": the file is missing but "
                             + std::to_string(known.acked.size())
                             + " commits were acknowledged");
    return out;
  }
  const multistore::store_identity identity{"verify", "verify"};
  auto opened = multistore::store_engine::open(multistore::schema_of<ledger_schema>(), id,
                                               multistore::sqlite_adapter{dir}, identity);
  if (!opened) {
    out.problems.push_back("store " + id + ": cannot reopen: " + opened.error().message);
    return out;
  }
  auto& engine = **opened;
  auto events = engine.read_events();
  if (!events) {
    out.problems.push_back("store " + id + ": cannot read the log: " + events.error().message);
    return out;
  }
  out.events = events->size();
  if (engine.head() != events->size())
    out.problems.push_back("store " + id + ": head " + std::to_string(engine.head()) + " but "
                           + std::to_string(events->size()) + " events in the log");

  // Decode the log; sequence numbers must run 1..n.
  std::vector<logged_entry> log;
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto& e = (*events)[i];
    if (e.seq != i + 1) {
      out.problems.push_back("store " + id + ": event " + std::to_string(i + 1)
                             + " of the log has sequence number " + std::to_string(e.seq));
      return out;
    }
    if (e.name != entry_added::name) {
      out.problems.push_back("store " + id + ": unexpected event '" + e.name + "' at #"
                             + std::to_string(e.seq));
      return out;
    }
    try {
      log.push_back({e.seq, e.args.get<entry_added>()});
    } catch (const std::exception& ex) {
      out.problems.push_back("store " + id + ": event #" + std::to_string(e.seq)
                             + " does not decode: " + ex.what());
      return out;
    }
  }

  // Every batch in the log is whole: its events are consecutive and in order.
  std::map<std::string, std::vector<const logged_entry*>> batches;
  for (const auto& l : log)
    batches[l.event.batch].push_back(&l);
  out.batches = batches.size();
  for (const auto& [batch, entries] : batches) {
    const auto size = entries.front()->event.size;
    bool whole = size >= 1 && entries.size() == static_cast<std::size_t>(size);
    for (std::size_t i = 0; whole && i < entries.size(); ++i)
      whole = entries[i]->event.index == static_cast<std::int64_t>(i)
              && entries[i]->event.size == size && entries[i]->seq == entries.front()->seq + i;
    if (!whole)
      out.problems.push_back("store " + id + ": batch " + batch + " is torn: "
                             + std::to_string(entries.size()) + " of " + std::to_string(size)
                             + " events, first at #" + std::to_string(entries.front()->seq));
    if (!known.acked.contains(batch))
      ++out.unacknowledged;
  }

  // Acknowledged batches are present where they were acknowledged; failed
  // ones are absent.
  for (const auto& [batch, a] : known.acked) {
    auto it = batches.find(batch);
    if (it == batches.end()) {
      out.problems.push_back("store " + id + ": acknowledged batch " + batch + " (#"
                             + std::to_string(a.last_seq) + ") is lost");
      continue;
    }
    if (it->second.back()->seq != a.last_seq
        || static_cast<std::int64_t>(it->second.size()) != a.size)
      out.problems.push_back("store " + id + ": batch " + batch + " was acknowledged as #"
                             + std::to_string(a.last_seq) + " with " + std::to_string(a.size)
                             + " events; the log has it at #"
                             + std::to_string(it->second.back()->seq) + " with "
                             + std::to_string(it->second.size()));
  }
  for (const auto& batch : known.failed)
    if (batches.contains(batch))
      out.problems.push_back("store " + id + ": batch " + batch
                             + " answered with an error but is in the log");

  // The state equals a replay of the log: as reopened, and as rebuilt by the
  // engine from the log alone.
  const auto expected = replay(log);
  compare_state(engine, expected, "store " + id + " as reopened", out);
  engine.close();

  std::error_code ec;
  fs::create_directories(scratch, ec);
  const auto copy = scratch / (id + ".sqlite");
  fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec);
  if (!ec && fs::exists(fs::path{file} += "-wal"))
    fs::copy_file(fs::path{file} += "-wal", fs::path{copy} += "-wal",
                  fs::copy_options::overwrite_existing, ec);
  if (ec) {
    out.problems.push_back("store " + id + ": cannot copy the file: " + ec.message());
    return out;
  }
  if (std::string why; !wipe_state(copy, why)) {
    out.problems.push_back("store " + id + ": cannot wipe the copy's state: " + why);
    return out;
  }
  auto rebuilt = multistore::store_engine::open(multistore::schema_of<ledger_schema_v2>(), id,
                                                multistore::sqlite_adapter{scratch}, identity);
  if (!rebuilt) {
    out.problems.push_back("store " + id + ": rebuilding from the log failed: "
                           + rebuilt.error().message);
    return out;
  }
  compare_state(**rebuilt, expected, "store " + id + " rebuilt from its log", out);
  (*rebuilt)->close();
  return out;
}

}  // namespace ledger
