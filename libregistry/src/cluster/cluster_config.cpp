#include "multistore/cluster_config.hpp"

#include "../detail/printable.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

namespace multistore {

namespace {

namespace fs = std::filesystem;

constexpr bool name_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
         || c == '-';
}

// Names, IPv4 and IPv6 addresses without brackets; nothing a URL, a shell or
// a log line would need to quote.
constexpr bool host_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
         || c == '-' || c == ':';
}

// The longest DNS name.
constexpr std::size_t max_host_length = 253;

bool is_keyword(std::string_view word) noexcept { return word == "cluster" || word == "tls"; }

// What is wrong with a member or cluster name, if anything; `kind` opens the
// message ("member name", "cluster name").
std::optional<std::string> name_problem(std::string_view kind, std::string_view name,
                                        bool member) {
  std::string what{kind};
  if (name.empty())
    return what + " is empty; use 1 to 64 of A-Z a-z 0-9 _ -";
  if (name.size() > max_cluster_name_length)
    return what + " '" + detail::printable(name) + "' is " + std::to_string(name.size())
           + " characters long; at most 64 are allowed";
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(static_cast<unsigned char>(name[i])))
      return what + " '" + detail::printable(name) + "' may only contain A-Z a-z 0-9 _ - (character "
             + std::to_string(i + 1) + " is '" + detail::printable(name.substr(i, 1)) + "')";
  }
  if (member && is_keyword(name))
    return what + " '" + std::string{name} + "' is a keyword of the cluster file; choose another";
  return std::nullopt;
}

std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty())
    return std::string{"host is empty"};
  if (host.size() > max_host_length)
    return "host '" + detail::printable(host) + "' is " + std::to_string(host.size())
           + " characters long; at most 253 are allowed";
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (!host_char(static_cast<unsigned char>(host[i])))
      return "host '" + detail::printable(host) + "' may only contain A-Z a-z 0-9 . - : (character "
             + std::to_string(i + 1) + " is '" + detail::printable(host.substr(i, 1)) + "')";
  }
  return std::nullopt;
}

// Decimal digits only (no sign, no spaces), 1..65535.
std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
  if (text.empty())
    return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535)
      return std::nullopt;
  }
  if (value == 0)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Host names compare without case: "Alpha.local" and "alpha.local" are one address.
std::string address_key(std::string_view host, std::uint16_t port) {
  std::string key;
  key.reserve(host.size() + 6);
  for (char c : host)
    key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  key += ':';
  key += std::to_string(port);
  return key;
}

std::string address(std::string_view host, std::uint16_t port) {
  return std::string{host} + ":" + std::to_string(port);
}

std::string member_names(const std::vector<cluster_member>& members) {
  constexpr std::size_t shown = 20;
  std::string out;
  for (std::size_t i = 0; i < members.size() && i < shown; ++i) {
    if (i > 0)
      out += ", ";
    out += members[i].name;
  }
  if (members.size() > shown)
    out += ", ... (" + std::to_string(members.size()) + " in all)";
  return out;
}

std::optional<std::string> self_problem(const cluster_options& opts) {
  if (opts.self.empty())
    return "this node's name is empty; it must be one of the members: "
           + member_names(opts.members);
  if (find_member(opts, opts.self) == nullptr)
    return "this node '" + detail::printable(opts.self) + "' is not a member; the members are "
           + member_names(opts.members);
  return std::nullopt;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      ++i;
    if (i > start)
      tokens.push_back(line.substr(start, i - start));
  }
  return tokens;
}

fs::path resolve(std::string_view token, const fs::path& base_dir) {
  fs::path p{std::string{token}};
  if (p.is_relative() && !base_dir.empty())
    return (base_dir / p).lexically_normal();
  return p;
}

// One line that is not blank once its comment is cut off.
struct line_parser {
  cluster_options& opts;
  const fs::path& base_dir;
  std::size_t cluster_line = 0;
  std::size_t tls_line = 0;
  std::unordered_map<std::string, std::size_t> name_lines;
  // host:port -> the line and the member that have it.
  std::unordered_map<std::string, std::pair<std::size_t, std::string>> address_lines;

  std::optional<std::string> operator()(const std::vector<std::string_view>& tokens,
                                        std::size_t line_no) {
    auto count = std::to_string(tokens.size() - 1);
    if (tokens[0] == "cluster") {
      if (cluster_line != 0)
        return "a second 'cluster' line; the cluster is named on line "
               + std::to_string(cluster_line);
      if (tokens.size() != 2)
        return "'cluster' takes one name, as in 'cluster orders'; this line has " + count
               + " words after it";
      if (auto p = name_problem("cluster name", tokens[1], false))
        return p;
      opts.name = std::string{tokens[1]};
      cluster_line = line_no;
      return std::nullopt;
    }
    if (tokens[0] == "tls") {
      if (tls_line != 0)
        return "a second 'tls' line; TLS is set on line " + std::to_string(tls_line);
      if (tokens.size() != 4)
        return "'tls' takes three paths, as in 'tls node.pem node.key ca.pem' (certificate, key, "
               "CA); this line has "
               + count;
      opts.certificate = resolve(tokens[1], base_dir);
      opts.key = resolve(tokens[2], base_dir);
      opts.ca = resolve(tokens[3], base_dir);
      tls_line = line_no;
      return std::nullopt;
    }
    if (tokens.size() != 3)
      return "'" + detail::printable(tokens[0])
             + "' is not a keyword (cluster, tls), and a member line has three fields NAME HOST "
               "PORT; this line has "
             + std::to_string(tokens.size());
    return member(tokens, line_no);
  }

  std::optional<std::string> member(const std::vector<std::string_view>& tokens,
                                    std::size_t line_no) {
    std::string name{tokens[0]};
    if (auto p = name_problem("member name", name, true))
      return p;
    if (auto p = host_problem(tokens[1]))
      return "member '" + name + "': " + *p;
    auto port = parse_port(tokens[2]);
    if (!port)
      return "member '" + name + "': port '" + detail::printable(tokens[2])
             + "' is not a number in 1..65535";
    if (auto it = name_lines.find(name); it != name_lines.end())
      return "member '" + name + "' is listed twice (first on line " + std::to_string(it->second)
             + ")";
    auto key = address_key(tokens[1], *port);
    if (auto it = address_lines.find(key); it != address_lines.end())
      return "member '" + name + "' has the address " + address(tokens[1], *port)
             + " of member '" + it->second.second + "' (line "
             + std::to_string(it->second.first) + ")";
    name_lines.emplace(name, line_no);
    address_lines.emplace(key, std::pair{line_no, name});
    opts.members.push_back(cluster_member{name, std::string{tokens[1]}, *port});
    return std::nullopt;
  }
};

// `label` names the source in messages: "cluster file 'x.conf'" or "cluster file".
result<cluster_options> parse(std::string_view text, std::string self, const fs::path& base_dir,
                              const std::string& label) {
  cluster_options opts;
  opts.self = std::move(self);
  line_parser parser{opts, base_dir, 0, 0, {}, {}};
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    auto end = std::min(text.find('\n', pos), text.size());
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto at = [&](const std::string& message) {
      return fail(errc::invalid_options,
                  label + " line " + std::to_string(line_no) + ": " + message);
    };
    if (line.size() > max_cluster_line_length)
      return at("the line is " + std::to_string(line.size()) + " bytes long; at most "
                + std::to_string(max_cluster_line_length) + " are allowed");
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        std::array<char, 8> hex{};
        std::snprintf(hex.data(), hex.size(), "0x%02x", c);
        return at(std::string{"control character "} + hex.data() + " at column "
                  + std::to_string(i + 1) + "; a cluster file is plain text");
      }
    }
    if (auto hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    auto tokens = split(line);
    if (tokens.empty())
      continue;
    if (auto problem = parser(tokens, line_no))
      return at(*problem);
  }
  if (parser.cluster_line == 0)
    return fail(errc::invalid_options,
                label + " has no 'cluster NAME' line; every node's file names the same cluster");
  if (opts.members.empty())
    return fail(errc::invalid_options,
                label + " lists no members; add a line NAME HOST PORT for every node");
  if (auto p = self_problem(opts))
    return fail(errc::invalid_options, label + ": " + *p);
  return opts;
}

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

}  // namespace

bool is_valid_member_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_cluster_name_length || is_keyword(name))
    return false;
  for (char c : name)
    if (!name_char(static_cast<unsigned char>(c)))
      return false;
  return true;
}

bool is_valid_cluster_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_cluster_name_length)
    return false;
  for (char c : name)
    if (!name_char(static_cast<unsigned char>(c)))
      return false;
  return true;
}

result<cluster_options> read_cluster_file(const std::filesystem::path& file, std::string self) {
  auto label = "cluster file '" + file.string() + "'";
  std::unique_ptr<std::FILE, file_closer> f{std::fopen(file.c_str(), "rb")};
  if (!f)
    return tl::unexpected(system_error(errc::invalid_options, "cannot read " + label, errno));
  std::string text;
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    auto n = std::fread(buf.data(), 1, buf.size(), f.get());
    text.append(buf.data(), n);
    if (text.size() > max_cluster_file_size)
      return fail(errc::invalid_options,
                  label + " is larger than 1 MiB; is it the right file?");
    if (n < buf.size()) {
      if (std::ferror(f.get()))
        return tl::unexpected(system_error(errc::invalid_options, "cannot read " + label, errno));
      break;
    }
  }
  return parse(text, std::move(self), file.parent_path(), label);
}

result<cluster_options> parse_cluster_file(std::string_view text, std::string self,
                                           const std::filesystem::path& base_dir) {
  return parse(text, std::move(self), base_dir, "cluster file");
}

result<void> validate(const cluster_options& opts) {
  auto bad = [](const std::string& message) {
    return fail(errc::invalid_options, "cluster options: " + message);
  };
  if (auto p = name_problem("cluster name", opts.name, false))
    return bad(*p);
  if (opts.members.empty())
    return bad("no members; list every node of the cluster");
  std::unordered_map<std::string, std::size_t> names;
  std::unordered_map<std::string, std::size_t> addresses;
  for (std::size_t i = 0; i < opts.members.size(); ++i) {
    const auto& m = opts.members[i];
    auto index = std::to_string(i + 1);
    if (auto p = name_problem("member name", m.name, true))
      return bad("member " + index + ": " + *p);
    if (auto p = host_problem(m.host))
      return bad("member '" + m.name + "': " + *p);
    if (m.port == 0)
      return bad("member '" + m.name + "': port 0 is not in 1..65535");
    if (auto [it, fresh] = names.emplace(m.name, i); !fresh)
      return bad("member '" + m.name + "' is listed twice (members "
                 + std::to_string(it->second + 1) + " and " + index + ")");
    if (auto [it, fresh] = addresses.emplace(address_key(m.host, m.port), i); !fresh)
      return bad("member '" + m.name + "' has the address " + address(m.host, m.port)
                 + " of member '" + opts.members[it->second].name + "'");
  }
  auto set = int{!opts.certificate.empty()} + int{!opts.key.empty()} + int{!opts.ca.empty()};
  if (set != 0 && set != 3) {
    std::string missing;
    for (auto [what, path] : {std::pair{"certificate", &opts.certificate},
                              std::pair{"key", &opts.key}, std::pair{"ca", &opts.ca}}) {
      if (path->empty())
        missing += missing.empty() ? what : std::string{" and "} + what;
    }
    return bad("certificate, key and ca are all set (mutual TLS) or all empty (plain TCP); "
               + missing + (set == 2 ? " is" : " are") + " empty");
  }
  if (auto p = self_problem(opts))
    return bad(*p);
  return {};
}

const cluster_member* find_member(const cluster_options& opts, std::string_view name) {
  for (const auto& m : opts.members)
    if (m.name == name)
      return &m;
  return nullptr;
}

bool uses_tls(const cluster_options& opts) {
  return !opts.certificate.empty() && !opts.key.empty() && !opts.ca.empty();
}

}  // namespace multistore
