#include "multistore/sql_value.hpp"

namespace multistore {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

result<blob> blob_from_hex(const std::string& hex, std::size_t index) {
  if (hex.size() % 2 != 0)
    return fail(errc::query_failed, "parameter " + std::to_string(index + 1)
                                        + ": $blob hex has an odd number of digits");
  blob out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return fail(errc::query_failed, "parameter " + std::to_string(index + 1)
                                          + ": $blob is not hexadecimal");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

nlohmann::json blob_to_json(std::span<const std::uint8_t> bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    hex += hex_digits[b >> 4];
    hex += hex_digits[b & 0x0f];
  }
  return nlohmann::json{{"$blob", std::move(hex)}};
}

result<std::vector<sql_value>> params_from_json(const nlohmann::json& array) {
  if (!array.is_array())
    return fail(errc::query_failed,
                std::string{"query parameters must be a JSON array, not "} + array.type_name());
  std::vector<sql_value> out;
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto& p = array[i];
    switch (p.type()) {
      case nlohmann::json::value_t::null: out.emplace_back(nullptr); break;
      case nlohmann::json::value_t::boolean:
        out.emplace_back(std::int64_t{p.get<bool>() ? 1 : 0});
        break;
      case nlohmann::json::value_t::number_integer:
        out.emplace_back(p.get<std::int64_t>());
        break;
      case nlohmann::json::value_t::number_unsigned: {
        auto v = p.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return fail(errc::query_failed, "parameter " + std::to_string(i + 1) + " ("
                                              + std::to_string(v)
                                              + ") does not fit an SQLite INTEGER");
        out.emplace_back(static_cast<std::int64_t>(v));
        break;
      }
      case nlohmann::json::value_t::number_float: out.emplace_back(p.get<double>()); break;
      case nlohmann::json::value_t::string: out.emplace_back(p.get<std::string>()); break;
      case nlohmann::json::value_t::object: {
        auto it = p.find("$blob");
        if (p.size() != 1 || it == p.end() || !it->is_string())
          return fail(errc::query_failed, "parameter " + std::to_string(i + 1)
                                              + " is an object; only {\"$blob\": \"<hex>\"} is "
                                                "accepted");
        auto bytes = blob_from_hex(it->get_ref<const std::string&>(), i);
        if (!bytes)
          return forward_error(bytes);
        out.emplace_back(std::move(*bytes));
        break;
      }
      default:
        return fail(errc::query_failed, "parameter " + std::to_string(i + 1) + " is a "
                                            + p.type_name()
                                            + "; use null, a boolean, a number, a string or "
                                              "{\"$blob\": \"<hex>\"}");
    }
  }
  return out;
}

nlohmann::json params_to_json(std::span<const sql_value> params) {
  auto out = nlohmann::json::array();
  for (const auto& p : params) {
    detail::visit_sql_param(p, [&]<class V>(const V& v) {
      if constexpr (std::same_as<V, std::span<const std::uint8_t>>)
        out.push_back(blob_to_json(v));
      else if constexpr (std::same_as<V, std::string_view>)
        out.push_back(std::string{v});
      else
        out.push_back(v);
    });
  }
  return out;
}

}  // namespace multistore
