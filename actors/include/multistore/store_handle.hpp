#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "multistore/detail/call.hpp"

namespace multistore {

/// A typed handle on a loaded store: one observer lease. While any handle of a
/// store lives, the registry keeps the store loaded; the last one released
/// starts the store's GC window.
///
///     auto issue = registry.use(issue_options("issue-1"));
///     issue.commit(issue_created{.id = "issue-1", .title = "Crash on save"});
///     auto rows = issue.query("SELECT title FROM issues WHERE id = ?", "issue-1");
///
/// Movable, not copyable. Calls block the calling thread until the store
/// actor answers (or, for a fixture's handle, run the fixture's scheduler);
/// one handle is used from one thread at a time. After clear(), or once the
/// store was disposed or died, every call throws `store_error{store_disposed}`
/// and release() is a no-op. A handle must not outlive its registry's actor
/// system.
template <class Schema>
class store_handle {
 public:
  store_handle() = default;
  explicit store_handle(std::shared_ptr<detail::lease> lease) : lease_(std::move(lease)) {}
  store_handle(store_handle&&) noexcept = default;
  store_handle& operator=(store_handle&& other) noexcept {
    if (this != &other) {
      release();
      lease_ = std::move(other.lease_);
    }
    return *this;
  }
  store_handle(const store_handle&) = delete;
  store_handle& operator=(const store_handle&) = delete;
  ~store_handle() { release(); }

  /// True until released (or moved from).
  explicit operator bool() const noexcept { return static_cast<bool>(lease_); }

  const std::string& store_id() const { return detail::store_id_of(checked()); }

  /// Commits `events` in one transaction; returns the sequence number of the
  /// last one once the transaction is durable. Throws `store_error`
  /// (`invalid_event`, `storage_failed`, `store_disposed`).
  template <class... Events>
  std::uint64_t commit(const Events&... events) {
    static_assert(sizeof...(Events) > 0, "multistore: commit needs at least one event");
    static_assert((schema_has_event_v<Schema, Events> && ...),
                  "multistore: this event type is not in the schema's events list");
    return detail::value_or_throw(detail::commit(checked(), encode_events(events...)));
  }

  /// Runs a read-only query with bound parameters; rows as a JSON array of
  /// {column: value} objects. Throws `store_error{query_failed}` for a
  /// statement that writes or fails.
  template <class... Params>
  nlohmann::json query(std::string_view sql, const Params&... params) const {
    return detail::value_or_throw(
        detail::query(checked(), sql, std::vector<sql_value>{to_sql_value(params)...}));
  }

  /// Rows converted to `Row` with nlohmann's from_json; a row that does not
  /// convert throws `store_error{query_failed}`, as `store::query_as` does.
  template <class Row, class... Params>
  std::vector<Row> query_as(std::string_view sql, const Params&... params) const {
    return detail::rows_as<Row>(query(sql, params...), sql);
  }

  /// Calls `fn` with the query's result now, then after every commit that
  /// changed it. `fn` runs on an actor system thread (for a fixture's handle:
  /// inside the fixture's run()). Ends when the subscription is destroyed or
  /// the store goes away.
  subscription subscribe(std::string_view sql, std::function<void(const nlohmann::json&)> fn) {
    return subscribe_with(sql, {}, std::move(fn));
  }

  /// subscribe() with bound parameters.
  subscription subscribe_with(std::string_view sql, std::vector<sql_value> params,
                              std::function<void(const nlohmann::json&)> fn) {
    return detail::value_or_throw(
        detail::subscribe(checked(), std::string{sql}, std::move(params), std::move(fn)));
  }

  /// Ends this lease now instead of at destruction. Idempotent.
  void release() noexcept {
    if (auto l = std::exchange(lease_, nullptr))
      detail::release(*l);
  }

 private:
  detail::lease& checked() const {
    if (!lease_)
      throw store_error(errc::store_disposed, "this store handle was released or moved from");
    return *lease_;
  }

  std::shared_ptr<detail::lease> lease_;
};

}  // namespace multistore
