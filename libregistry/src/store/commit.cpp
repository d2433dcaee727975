// Commits: events appended to the log and their materializers run in one
// transaction; group commit shares that transaction between batches, each
// behind its own savepoint.

#include <sqlite3.h>

#include "engine_impl.hpp"
#include "multistore/detail/json_depth.hpp"
#include "multistore/sqlite/transaction.hpp"

namespace multistore {

using sqlite::operation;

namespace {

std::int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Runs `fn` on scope exit unless disarmed.
template <class F>
class scope_guard {
 public:
  explicit scope_guard(F fn) : fn_(std::move(fn)) {}
  scope_guard(const scope_guard&) = delete;
  scope_guard& operator=(const scope_guard&) = delete;
  ~scope_guard() {
    if (armed_)
      fn_();
  }
  void disarm() noexcept { armed_ = false; }

 private:
  F fn_;
  bool armed_ = true;
};

}  // namespace

// -- write_context (materializers) ------------------------------------------------

sqlite::statement& store_engine::impl::statement_for(std::string_view sql,
                                                     std::size_t parameters) {
  auto& cache = db.write_cache();
  sqlite::cached_statement* entry = cache.find(sql);
  if (entry == nullptr) {
    sqlite::cached_statement fresh;
    auto st = prepare(sql, detail::prepare_mode::write, operation::write, fresh.tables);
    if (!st)
      throw sqlite::sqlite_failure(SQLITE_ERROR, st.error().message);
    fresh.st = std::move(*st);
    fresh.parameters = fresh.st.parameter_count();
    entry = &cache.insert(std::string{sql}, std::move(fresh));
  }
  if (static_cast<std::size_t>(entry->parameters) != parameters)
    throw sqlite::sqlite_failure(
        SQLITE_RANGE, "\"" + std::string{sql} + "\" takes " + std::to_string(entry->parameters)
                          + " parameters, " + std::to_string(parameters) + " were given");
  for (auto id : entry->tables)
    mark_dirty(id);
  return entry->st;
}

void store_engine::impl::run(sqlite::statement& st) {
  int rc;
  while ((rc = st.step()) == sqlite::row) {  // e.g. a RETURNING clause
  }
  if (rc != sqlite::done) {
    auto err = sqlite::to_error(rc, operation::write, db.handle(),
                                "\"" + std::string{st.sql()} + "\" failed");
    st.reset();
    throw sqlite::sqlite_failure(rc, err.message);
  }
  st.reset();
}

// -- the log ----------------------------------------------------------------------

result<void> store_engine::impl::append(std::span<const event_record> events,
                                        std::uint64_t& seq, std::int64_t time) {
  sql_writer writer{*this};
  auto& ins = insert_event;
  std::string args_text;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    auto where = [&] {
      return "event '" + e.name + "' (" + std::to_string(i + 1) + " of "
             + std::to_string(events.size()) + ")";
    };
    const auto* materialize = schema->materializer(e.name);
    if (materialize == nullptr)
      return fail(errc::invalid_event,
                  where() + " is not in schema '" + schema->name() + "'; nothing was committed");
    if (detail::nests_deeper_than(e.args, detail::max_args_depth))
      return fail(errc::invalid_event, where() + " has arguments nested more than "
                                           + std::to_string(detail::max_args_depth)
                                           + " levels deep; nothing was committed");
    try {
      if (e.args_text.empty())
        args_text = e.args.dump();
    } catch (const std::exception& ex) {
      return fail(errc::invalid_event, where() + " has arguments that cannot be stored: "
                                           + ex.what() + "; nothing was committed");
    }
    ++seq;
    ins.bind(1, static_cast<std::int64_t>(seq));
    ins.bind(2, std::string_view{e.name});
    ins.bind(3, e.args_text.empty() ? std::string_view{args_text} : std::string_view{e.args_text});
    ins.bind(4, std::string_view{identity.client_id});
    ins.bind(5, std::string_view{identity.session_id});
    ins.bind(6, time);
    int rc = ins.step();
    ins.reset();
    if (rc != sqlite::done)
      return tl::unexpected(sqlite::to_error(rc, operation::write, db.handle(),
                                             "appending " + where() + " to the log"));
    try {
      (*materialize)(e.args, writer);
    } catch (const detail::decode_error& ex) {
      return fail(errc::invalid_event, where() + " does not decode: " + ex.what()
                                           + "; nothing was committed");
    } catch (const std::exception& ex) {
      return fail(errc::storage_failed, "the materializer of " + where() + " failed: "
                                            + ex.what() + "; nothing was committed");
    } catch (...) {
      return fail(errc::storage_failed, "the materializer of " + where()
                                            + " threw; nothing was committed");
    }
  }
  return {};
}

// -- store_engine -----------------------------------------------------------------

result<std::uint64_t> store_engine::commit(std::span<const event_record> events) {
  if (impl_->open && events.empty())
    return impl_->head;
  return commit_group(std::span{&events, 1}).front();
}

std::vector<result<std::uint64_t>> store_engine::commit_group(
    std::span<const std::span<const event_record>> batches) {
  auto& s = *impl_;
  std::vector<result<std::uint64_t>> results;
  results.reserve(batches.size());
  auto fail_all = [&](const error& why) {
    results.assign(batches.size(), tl::unexpected(why));
    return std::move(results);
  };
  if (!s.open)
    return fail_all(detail::disposed(s.store_id).value());
  // A batch alone needs no savepoint: its failure rolls the transaction back.
  const bool alone = batches.size() == 1;

  // Written tables are cleared by notify(), or here when nothing committed.
  scope_guard guard{[&s]() noexcept { s.clear_dirty(); }};
  sqlite::transaction tx{s.db};
  if (auto r = tx.begin(operation::write); !r)
    return fail_all(r.error());
  const auto time = now_ms();
  auto seq = s.head;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (int rc = alone ? SQLITE_OK : s.db.savepoint(); rc != SQLITE_OK)
      return fail_all(sqlite::to_error(rc, operation::write, s.db.handle(),
                                       "cannot start a savepoint; nothing was committed"));
    const auto before = seq;
    auto appended = s.append(batches[i], seq, time);
    if (appended) {
      if (int rc = alone ? SQLITE_OK : s.db.release_savepoint(); rc != SQLITE_OK)
        return fail_all(sqlite::to_error(rc, operation::write, s.db.handle(),
                                         "cannot release a savepoint; nothing was committed"));
      results.emplace_back(seq);
      continue;
    }
    if (alone)
      return fail_all(appended.error());
    // The batch alone goes; the batches before it stand, unless SQLite
    // rolled the whole transaction back (out of memory or disk): then
    // nothing of the group was committed.
    if (!s.db.in_transaction() || s.db.rollback_to_savepoint() != SQLITE_OK
        || s.db.release_savepoint() != SQLITE_OK) {
      auto why = appended.error();
      why.message += " (the whole group of " + std::to_string(batches.size())
                     + " commits was rolled back)";
      return fail_all(why);
    }
    seq = before;
    results.emplace_back(forward_error(appended));
  }
  if (auto r = tx.commit(operation::write); !r)
    return fail_all(r.error());
  if (seq != s.head) {
    s.head = seq;
    s.mark_dirty(s.events_table);
  }
  if (!s.file_backed)
    s.note_written();
  guard.disarm();
  s.notify();
  return results;
}

}  // namespace multistore
