// Subscriptions: a query re-run after each commit that wrote a table it
// reads, its subscriber called when the result changed.

#include "engine_impl.hpp"

namespace multistore {

void store_engine::impl::notify() {
  auto& entries = subscriptions->entries;
  if (entries.empty()) {
    clear_dirty();
    return;
  }
  std::vector<std::uint64_t> due;
  for (const auto& [id, entry] : entries)
    if (std::any_of(entry.tables.begin(), entry.tables.end(),
                    [&](std::uint32_t t) { return dirty[t] != 0; }))
      due.push_back(id);
  clear_dirty();
  // Hold the set: a callback may cancel any subscription, including its own.
  auto keep = subscriptions;
  for (auto id : due) {
    auto it = keep->entries.find(id);
    if (it == keep->entries.end())
      continue;
    auto& entry = it->second;
    auto rows = run_query(entry.st, entry.st.parameter_count(), entry.params);
    if (!rows || *rows == entry.last)
      continue;
    entry.last = *rows;
    auto fn = entry.fn;  // the callback may destroy its entry
    try {
      (*fn)(*rows);
    } catch (...) {  // the commit stands; a subscriber cannot undo it
    }
    if (!open)
      return;
  }
}

result<subscription> store_engine::subscribe(std::string sql, std::vector<sql_value> params,
                                             subscriber fn) {
  auto& s = *impl_;
  if (!s.open)
    return detail::disposed(s.store_id);
  auto prepared = s.prepare_query(sql);
  if (!prepared)
    return forward_error(prepared);
  auto rows = s.run_query(prepared->st, prepared->parameters, params);
  if (!rows)
    return forward_error(rows);
  auto callback = std::make_shared<const subscriber>(std::move(fn));
  (*callback)(*rows);

  auto& set = *s.subscriptions;
  auto id = set.next_id++;
  set.entries.emplace(id, detail::subscription_entry{std::move(prepared->st), std::move(params),
                                                     std::move(prepared->tables),
                                                     std::move(*rows), std::move(callback)});
  return subscription{[weak = std::weak_ptr<detail::subscription_set>(s.subscriptions), id] {
    if (auto subs = weak.lock())
      subs->entries.erase(id);
  }};
}

}  // namespace multistore
