#include "multistore/system_setup.hpp"

#include <iostream>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/timespan.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "detail/caf_error.hpp"
#include "detail/logging.hpp"
#include "multistore/messages.hpp"
#include "multistore/registry_actor.hpp"

namespace multistore {

namespace {

std::string render(std::uint8_t code, caf::atom_value, const caf::message& context) {
  std::string out{to_string(static_cast<errc>(code))};
  if (context.match_elements<std::string>()) {
    out += ": ";
    out += context.get_as<std::string>(0);
  }
  return out;
}

}  // namespace

void configure(caf::actor_system_config& cfg) {
  cfg.set("work-stealing.moderate-sleep-duration", caf::timespan{0});
  cfg.add_error_category(detail::error_category, render);
  auto add = [&cfg]<class T>(T*) { cfg.add_message_type<T>(T::wire_name); };
  add(static_cast<store_request*>(nullptr));
  add(static_cast<store_info_msg*>(nullptr));
  add(static_cast<stats_msg*>(nullptr));
  add(static_cast<wire_event*>(nullptr));
  add(static_cast<hello_msg*>(nullptr));
  add(static_cast<member_status_msg*>(nullptr));
  cfg.add_message_type<std::vector<member_status_msg>>("std::vector<multistore::member_status_msg>");
  cfg.add_message_type<std::vector<wire_event>>("std::vector<multistore::wire_event>");
}

namespace detail {

caf::error to_caf_error(errc code, std::string message) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

caf::error to_caf_error(const error& err) {
  return to_caf_error(err.code, err.message);
}

std::shared_ptr<spdlog::logger> library_logger(std::shared_ptr<spdlog::logger> given) {
  if (given)
    return given;
  if (auto named = spdlog::get("multistore"))
    return named;
  // Not registered with spdlog: the name stays free for the host program.
  auto own = std::make_shared<spdlog::logger>(
      "multistore", std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cerr, true));
  own->set_level(spdlog::level::warn);
  return own;
}

}  // namespace detail

error to_error(const caf::error& err, errc gone) {
  if (err.category() == detail::error_category) {
    std::string message;
    if (err.context().match_elements<std::string>())
      message = err.context().get_as<std::string>(0);
    return error{static_cast<errc>(err.code()), std::move(message)};
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_receiver_down)
      return error{gone, gone == errc::registry_closed ? "the registry actor is gone"
                                                       : "the store actor is gone"};
    return error{gone, "actor system error: " + caf::to_string(code)};
  }
  return error{gone, "unexpected error category"};
}

store_info_msg to_msg(const store_info& info) {
  return store_info_msg{static_cast<std::uint8_t>(info.state),
                        info.observers,
                        info.gc_time.count(),
                        info.loads,
                        info.gc_remaining.has_value(),
                        info.gc_remaining ? info.gc_remaining->count() : 0};
}

store_info from_msg(const store_info_msg& m) {
  store_info info;
  info.state = static_cast<store_state>(m.state);
  info.observers = static_cast<std::size_t>(m.observers);
  info.gc_time = gc_duration{m.gc_time_ms};
  info.loads = m.loads;
  if (m.has_gc_remaining)
    info.gc_remaining = gc_duration{m.gc_remaining_ms};
  return info;
}

stats_msg to_msg(const registry_stats& s) {
  return stats_msg{s.loading, s.active, s.inactive,      s.closing,       s.queued,
                   s.leases,  s.waiting, s.pending_timers, s.loads, s.load_failures,
                   s.disposals, s.evictions};
}

registry_stats from_msg(const stats_msg& m) {
  auto n = [](std::uint64_t v) { return static_cast<std::size_t>(v); };
  registry_stats s;
  s.loading = n(m.loading);
  s.active = n(m.active);
  s.inactive = n(m.inactive);
  s.closing = n(m.closing);
  s.queued = n(m.queued);
  s.leases = n(m.leases);
  s.waiting = n(m.waiting);
  s.pending_timers = n(m.pending_timers);
  s.loads = m.loads;
  s.load_failures = m.load_failures;
  s.disposals = m.disposals;
  s.evictions = m.evictions;
  return s;
}

}  // namespace multistore
