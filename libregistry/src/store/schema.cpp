#include "multistore/schema.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

namespace multistore {

void sql_writer::exec_values(std::string_view sql, std::span<const sql_value> params) {
  auto& st = context_->statement_for(sql, params.size());
  int index = 0;
  for (const auto& p : params)
    st.bind_param(++index, p);
  context_->run(st);
}

schema_builder& schema_builder::table(std::string name, std::string create_sql) {
  tables_.push_back(table_def{std::move(name), std::move(create_sql)});
  return *this;
}

void schema_builder::add_materializer(std::string event, detail::materializer_fn fn) {
  materializers_.push_back(materializer_entry{std::move(event), std::move(fn)});
}

namespace {

// FNV-1a, 64 bit: stable across builds and platforms, which std::hash is not.
class fnv1a {
 public:
  void add(std::string_view bytes) noexcept {
    for (char c : bytes) {
      state_ ^= static_cast<unsigned char>(c);
      state_ *= 0x100000001b3ULL;
    }
    // A separator that no text contains keeps ("ab","c") apart from ("a","bc").
    state_ ^= 0xffU;
    state_ *= 0x100000001b3ULL;
  }
  std::string hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i)
      out[static_cast<std::size_t>(15 - i)] = digits[(state_ >> (i * 4)) & 0xfU];
    return out;
  }

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void invalid(const std::string& schema, const std::string& what) {
  throw std::logic_error("multistore: schema '" + schema + "': " + what);
}

}  // namespace

schema_def schema_def::build(std::string name, std::optional<int> version,
                             std::vector<std::string> event_names, schema_builder builder) {
  if (name.empty())
    invalid(name, "the schema name is empty");

  std::set<std::string, std::less<>> events;
  for (const auto& e : event_names) {
    if (e.empty())
      invalid(name, "an event type has an empty name");
    if (!events.insert(e).second)
      invalid(name, "two event types are named '" + e + "'; event names must be unique");
  }

  std::set<std::string> tables;
  for (const auto& t : builder.tables_) {
    if (t.name.empty())
      invalid(name, "a table has an empty name");
    if (t.name.starts_with("__"))
      invalid(name, "table '" + t.name + "' starts with '__', which is reserved for the engine");
    if (lowercase(t.name).starts_with("sqlite_"))
      invalid(name, "table '" + t.name + "' starts with 'sqlite_', which is reserved for SQLite");
    if (!tables.insert(lowercase(t.name)).second)
      invalid(name, "table '" + t.name + "' is declared twice");
    if (t.create_sql.find_first_not_of(" \t\r\n") == std::string::npos)
      invalid(name, "table '" + t.name + "' has no CREATE statement");
  }

  schema_def def;
  for (auto& m : builder.materializers_) {
    if (!events.contains(m.event))
      invalid(name, "a materializer is registered for '" + m.event
                        + "', which is not in the schema's events list");
    if (!def.materializers_.emplace(m.event, std::move(m.fn)).second)
      invalid(name, "event '" + m.event + "' has two materializers; register exactly one");
  }
  for (const auto& e : event_names)
    if (!def.materializers_.contains(e))
      invalid(name, "event '" + e + "' has no materializer; call b.materialize<" + e
                        + ">(...) in define()");

  fnv1a h;
  h.add("multistore-schema-1");
  h.add(name);
  h.add(version ? std::to_string(*version) : std::string{"-"});
  for (const auto& t : builder.tables_) {
    h.add(t.name);
    h.add(t.create_sql);
  }
  h.add("events");
  for (const auto& e : event_names)
    h.add(e);

  def.name_ = std::move(name);
  def.hash_ = h.hex();
  def.version_ = version;
  def.tables_ = std::move(builder.tables_);
  def.event_names_ = std::move(event_names);
  return def;
}

const detail::materializer_fn* schema_def::materializer(std::string_view event) const noexcept {
  auto it = materializers_.find(event);
  return it == materializers_.end() ? nullptr : &it->second;
}

namespace detail {

namespace {

/// A float that an integer field of unknown width takes without loss.
bool whole_in_int32(double v) {
  return v >= -2147483648.0 && v <= 2147483647.0 && v == static_cast<double>(static_cast<long>(v));
}

void check_numbers(const nlohmann::json& args, const nlohmann::json& shape, std::string& path,
                   std::string& why) {
  using value_t = nlohmann::json::value_t;
  if (!why.empty())
    return;
  switch (shape.type()) {
    case value_t::number_integer:
      if (args.is_number_float() && !whole_in_int32(args.get<double>()))
        why = "'" + path + "' is an integer field; " + args.dump() + " is not a whole number "
              + "within ±2^31";
      return;
    case value_t::number_unsigned:
      if ((args.is_number_integer() && !args.is_number_unsigned() && args.get<std::int64_t>() < 0)
          || (args.is_number_float() && (args.get<double>() < 0 || !whole_in_int32(args.get<double>()))))
        why = "'" + path + "' is an unsigned integer field; " + args.dump()
              + " is not a whole number from 0 to 2^31";
      return;
    case value_t::object:
      if (!args.is_object())
        return;  // the decoder reports the wrong type
      for (const auto& [key, sub] : shape.items()) {
        auto it = args.find(key);
        if (it == args.end())
          continue;
        const auto size = path.size();
        path += path.empty() ? "" : ".";
        path += key;
        check_numbers(*it, sub, path, why);
        path.resize(size);
      }
      return;
    case value_t::array:
      if (!args.is_array() || shape.empty())
        return;
      for (std::size_t i = 0; i < args.size(); ++i) {
        const auto size = path.size();
        path += "[" + std::to_string(i) + "]";
        check_numbers(args[i], shape[0], path, why);
        path.resize(size);
        if (!why.empty())
          return;
      }
      return;
    default:
      return;
  }
}

}  // namespace

std::string number_mismatch(const nlohmann::json& args, const nlohmann::json& shape) {
  std::string path, why;
  check_numbers(args, shape, path, why);
  return why;
}

}  // namespace detail

}  // namespace multistore
