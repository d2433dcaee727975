#include "multistore/system_setup.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/timespan.hpp>

#include "detail/caf_support.hpp"
#include "multistore/registry_actor.hpp"
#include "multistore/store_actor.hpp"

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
  cfg.add_message_type<store_request>("multistore::store_request");
  cfg.add_message_type<store_info_msg>("multistore::store_info_msg");
  cfg.add_message_type<stats_msg>("multistore::stats_msg");
  cfg.add_message_type<wire_event>("multistore::wire_event");
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

error from_caf_error(const caf::error& err, errc gone) {
  if (err.category() == error_category) {
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

}  // namespace detail

error to_error(const caf::error& err, errc gone) {
  return detail::from_caf_error(err, gone);
}

}  // namespace multistore
