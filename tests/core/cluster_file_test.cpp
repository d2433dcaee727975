#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "multistore/cluster_config.hpp"
#include "multistore/membership.hpp"
#include "multistore/placement.hpp"
#include "temp_dir.hpp"

using multistore::cluster_member;
using multistore::cluster_options;
using multistore::errc;
using namespace std::string_literals;

namespace {

// Lines 1..3 are good; `line` becomes line 4.
std::string with_line_4(const std::string& line) {
  return "cluster orders\n"
         "alpha 10.0.0.1 4100\n"
         "beta 10.0.0.2 4100\n"
         + line + "\n"
         + "gamma 10.0.0.3 4100\n";
}

cluster_options three_members() {
  return cluster_options{.name = "orders",
                         .members = {{"alpha", "10.0.0.1", 4100},
                                     {"beta", "10.0.0.2", 4100},
                                     {"gamma", "10.0.0.3", 4100}},
                         .self = "alpha"};
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
}

}  // namespace

// -- the file format ---------------------------------------------------------------

TEST_CASE("a cluster file with comments blank lines tabs and tls parses", "[cluster][file]") {
  const auto text =
      "# the orders cluster\n"
      "\n"
      "cluster orders   # named once\n"
      "tls certs/node.pem\tcerts/node.key /etc/orders/ca.pem\n"
      "   \t  \n"
      "alpha 10.0.0.1 4100\n"
      "\tbeta\tnode-b.example.com\t4100   \r\n"
      "gamma ::1 65535#no space before the comment\n"
      "# the end, without a newline";
  auto opts = multistore::parse_cluster_file(text, "beta", "/srv/orders");
  REQUIRE(opts);
  CHECK(opts->name == "orders");
  CHECK(opts->self == "beta");
  CHECK(opts->members
        == std::vector<cluster_member>{{"alpha", "10.0.0.1", 4100},
                                       {"beta", "node-b.example.com", 4100},
                                       {"gamma", "::1", 65535}});
  CHECK(opts->certificate == "/srv/orders/certs/node.pem");
  CHECK(opts->key == "/srv/orders/certs/node.key");
  CHECK(opts->ca == "/etc/orders/ca.pem");
  CHECK(multistore::uses_tls(*opts));
  CHECK(multistore::validate(*opts));
  REQUIRE(multistore::find_member(*opts, "gamma") != nullptr);
  CHECK(multistore::find_member(*opts, "gamma")->port == 65535);
  CHECK(multistore::find_member(*opts, "delta") == nullptr);
}

TEST_CASE("a cluster file without a tls line means plain TCP", "[cluster][file]") {
  auto opts = multistore::parse_cluster_file("cluster c\nsolo localhost 1\n", "solo");
  REQUIRE(opts);
  CHECK_FALSE(multistore::uses_tls(*opts));
  CHECK(opts->certificate.empty());
  CHECK(opts->members == std::vector<cluster_member>{{"solo", "localhost", 1}});
}

TEST_CASE("relative tls paths stay relative without a base directory", "[cluster][file]") {
  auto opts =
      multistore::parse_cluster_file("cluster c\ntls a.pem b.key c.pem\nsolo h 1\n", "solo");
  REQUIRE(opts);
  CHECK(opts->certificate == "a.pem");
  CHECK(opts->ca == "c.pem");
}

TEST_CASE("a line of exactly 4096 bytes is accepted", "[cluster][file]") {
  auto text = with_line_4("#" + std::string(4095, 'x'));
  CHECK(multistore::parse_cluster_file(text, "alpha"));
}

TEST_CASE("hostile lines are refused naming the line and the problem", "[cluster][file]") {
  struct row {
    std::string line;
    std::string says;
  };
  const row rows[] = {
      // ports
      {"delta 10.0.0.4 70000", "member 'delta': port '70000' is not a number in 1..65535"},
      {"delta 10.0.0.4 65536", "port '65536' is not a number in 1..65535"},
      {"delta 10.0.0.4 0", "port '0' is not a number in 1..65535"},
      {"delta 10.0.0.4 +4100", "port '+4100' is not"},
      {"delta 10.0.0.4 -1", "port '-1' is not"},
      {"delta 10.0.0.4 41a0", "port '41a0' is not"},
      {"delta 10.0.0.4 0x10", "port '0x10' is not"},
      {"delta 10.0.0.4 99999999999999999999999", "port '99999999999999999999999' is not"},
      // token counts and keywords
      {"delta", "'delta' is not a keyword (cluster, tls), and a member line has three fields "
                "NAME HOST PORT; this line has 1"},
      {"delta 10.0.0.4", "this line has 2"},
      {"delta 10.0.0.4 4100 extra", "this line has 4"},
      {"member delta 10.0.0.4 4100", "'member' is not a keyword"},
      {"CLUSTER orders", "'CLUSTER' is not a keyword"},
      {"cluster orders", "a second 'cluster' line; the cluster is named on line 1"},
      {"tls a.pem b.key", "'tls' takes three paths"},
      {"tls", "'tls' takes three paths"},
      {"tls a.pem b.key c.pem d.pem", "this line has 4"},
      // member names
      {"del.ta 10.0.0.4 4100",
       "member name 'del.ta' may only contain A-Z a-z 0-9 _ - (character 4 is '.')"},
      {"delt\xc3\xa4 10.0.0.4 4100", "character 5 is '\\xc3'"},
      {std::string(65, 'd') + " 10.0.0.4 4100", "is 65 characters long; at most 64"},
      {"alpha 10.0.0.9 4100", "member 'alpha' is listed twice (first on line 2)"},
      // hosts
      {"delta 10_0 4100", "host '10_0' may only contain A-Z a-z 0-9 . - : (character 3 is '_')"},
      {"delta [::1] 4100", "character 1 is '['"},
      {"delta h/x 4100", "character 2 is '/'"},
      {"delta " + std::string(254, 'h') + " 4100", "254 characters long; at most 253"},
      {"delta 10.0.0.1 4100", "member 'delta' has the address 10.0.0.1:4100 of member 'alpha' "
                              "(line 2)"},
      // the bytes of the text
      {"delta\0 10.0.0.4 4100"s, "control character 0x00 at column 6"},
      {"delta 10.0.0.4\r4100", "control character 0x0d at column 15"},
      {"# \x1b[31m", "control character 0x1b at column 3"},
      {"delta 10.0.0.4 4100 #\x7f", "control character 0x7f"},
      {std::string(5000, 'x'), "the line is 5000 bytes long; at most 4096 are allowed"},
      {"#" + std::string(4096, 'x'), "the line is 4097 bytes long"},
  };
  for (const auto& r : rows) {
    INFO(r.line.substr(0, 80));
    auto opts = multistore::parse_cluster_file(with_line_4(r.line), "alpha");
    REQUIRE_FALSE(opts);
    CHECK(opts.error().code == errc::invalid_options);
    CHECK_THAT(opts.error().message, Catch::StartsWith("cluster file line 4: "));
    CHECK_THAT(opts.error().message, Catch::Contains(r.says));
    CHECK(opts.error().message.size() < 400);
  }
}

TEST_CASE("members named like the keywords are refused", "[cluster][file]") {
  // A line starting with a keyword is read as that keyword; in code the names
  // are refused outright.
  auto opts = multistore::parse_cluster_file(with_line_4("tls 10.0.0.4 4100"), "alpha");
  REQUIRE_FALSE(opts);
  CHECK_THAT(opts.error().message, Catch::Contains("line 4: 'tls' takes three paths"));
  for (const char* name : {"cluster", "tls"}) {
    auto code = three_members();
    code.members[2].name = name;
    auto checked = multistore::validate(code);
    REQUIRE_FALSE(checked);
    CHECK_THAT(checked.error().message,
               Catch::Contains("member name '"s + name + "' is a keyword"));
    CHECK_FALSE(multistore::is_valid_member_name(name));
    CHECK(multistore::is_valid_cluster_name(name));
  }
}

TEST_CASE("host names compare without case when looking for a shared address",
          "[cluster][file]") {
  auto opts = multistore::parse_cluster_file(
      "cluster c\na Node-1.example 7000\nb node-1.EXAMPLE 7000\n", "a");
  REQUIRE_FALSE(opts);
  CHECK_THAT(opts.error().message,
             Catch::Contains("line 3: member 'b' has the address node-1.EXAMPLE:7000 of member "
                             "'a' (line 2)"));
  CHECK(multistore::parse_cluster_file("cluster c\na h 7000\nb h 7001\n", "a"));
}

TEST_CASE("bad cluster lines are refused on their line", "[cluster][file]") {
  struct row {
    std::string text;
    std::string says;
  };
  const row rows[] = {
      {"# top\ncluster bad.name\nalpha h 1\n",
       "cluster file line 2: cluster name 'bad.name' may only contain A-Z a-z 0-9 _ -"},
      {"cluster " + std::string(65, 'c') + "\nalpha h 1\n",
       "cluster file line 1: cluster name 'ccc"},
      {"cluster\nalpha h 1\n", "cluster file line 1: 'cluster' takes one name, as in 'cluster "
                               "orders'; this line has 0 words after it"},
      {"cluster a b\nalpha h 1\n", "line 1: 'cluster' takes one name"},
      {"cluster a\ntls x y z\nalpha h 1\n\ntls x y z\n",
       "cluster file line 5: a second 'tls' line; TLS is set on line 2"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    auto opts = multistore::parse_cluster_file(r.text, "alpha");
    REQUIRE_FALSE(opts);
    CHECK(opts.error().code == errc::invalid_options);
    CHECK_THAT(opts.error().message, Catch::Contains(r.says));
  }
}

TEST_CASE("a file without a cluster line members or this node is refused", "[cluster][file]") {
  struct row {
    std::string text;
    std::string self;
    std::string says;
  };
  const row rows[] = {
      {"", "alpha", "cluster file has no 'cluster NAME' line"},
      {"# only a comment\nalpha h 1\n", "alpha", "has no 'cluster NAME' line"},
      {"cluster c\n", "alpha", "cluster file lists no members"},
      {"cluster c\nalpha h 1\nbeta h 2\n", "delta",
       "cluster file: this node 'delta' is not a member; the members are alpha, beta"},
      {"cluster c\nalpha h 1\nbeta h 2\n", "",
       "cluster file: this node's name is empty; it must be one of the members: alpha, beta"},
      {"cluster c\nalpha h 1\n", "Alpha", "this node 'Alpha' is not a member"},
  };
  for (const auto& r : rows) {
    INFO(r.text << " as " << r.self);
    auto opts = multistore::parse_cluster_file(r.text, r.self);
    REQUIRE_FALSE(opts);
    CHECK(opts.error().code == errc::invalid_options);
    CHECK_THAT(opts.error().message, Catch::Contains(r.says));
  }
}

// -- reading from disk --------------------------------------------------------------

TEST_CASE("read_cluster_file resolves tls paths against the file's directory",
          "[cluster][file]") {
  temp_dir tmp;
  auto path = tmp.path() / "cluster.conf";
  write_file(path, "cluster c\ntls tls/n.pem tls/n.key ../ca.pem\nalpha h 1\nbeta h 2\n");
  auto opts = multistore::read_cluster_file(path, "beta");
  REQUIRE(opts);
  CHECK(opts->self == "beta");
  CHECK(opts->certificate == tmp.path() / "tls/n.pem");
  CHECK(opts->key == tmp.path() / "tls/n.key");
  CHECK(opts->ca == tmp.path().parent_path() / "ca.pem");
}

TEST_CASE("read_cluster_file names the file and the line", "[cluster][file]") {
  temp_dir tmp;
  auto path = tmp.path() / "x.conf";
  write_file(path, "cluster c\nalpha h 1\n\ndelta h 70000\n");
  auto opts = multistore::read_cluster_file(path, "alpha");
  REQUIRE_FALSE(opts);
  CHECK(opts.error().code == errc::invalid_options);
  CHECK(opts.error().message
        == "cluster file '" + path.string()
               + "' line 4: member 'delta': port '70000' is not a number in 1..65535");

  write_file(path, "cluster c\nalpha h 1\n");
  auto not_member = multistore::read_cluster_file(path, "beta");
  REQUIRE_FALSE(not_member);
  CHECK(not_member.error().message
        == "cluster file '" + path.string()
               + "': this node 'beta' is not a member; the members are alpha");
}

TEST_CASE("a cluster file that cannot be read is refused with the system's reason",
          "[cluster][file]") {
  temp_dir tmp;
  auto missing = multistore::read_cluster_file(tmp.path() / "missing.conf", "alpha");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::invalid_options);
  CHECK(missing.error().message
        == "cannot read cluster file '" + (tmp.path() / "missing.conf").string()
               + "': " + std::strerror(ENOENT));

  auto directory = multistore::read_cluster_file(tmp.path(), "alpha");
  REQUIRE_FALSE(directory);
  CHECK(directory.error().code == errc::invalid_options);
  CHECK_THAT(directory.error().message, Catch::Contains(std::strerror(EISDIR)));
}

TEST_CASE("a cluster file over 1 MiB is refused", "[cluster][file]") {
  temp_dir tmp;
  auto path = tmp.path() / "big.conf";
  std::string text = "cluster c\nalpha h 1\n";
  while (text.size() <= multistore::max_cluster_file_size)
    text += "# " + std::string(1000, 'x') + "\n";
  write_file(path, text);
  auto opts = multistore::read_cluster_file(path, "alpha");
  REQUIRE_FALSE(opts);
  CHECK_THAT(opts.error().message, Catch::Contains("is larger than 1 MiB"));
}

// -- options built in code ----------------------------------------------------------

TEST_CASE("options built in code follow the file's rules", "[cluster][validate]") {
  CHECK(multistore::validate(three_members()));

  struct row {
    std::string what;
    void (*edit)(cluster_options&);
    std::string says;
  };
  const row rows[] = {
      {"empty cluster name", [](cluster_options& o) { o.name.clear(); },
       "cluster options: cluster name is empty"},
      {"bad cluster name", [](cluster_options& o) { o.name = "a b"; },
       "cluster name 'a b' may only contain A-Z a-z 0-9 _ - (character 2 is ' ')"},
      {"no members", [](cluster_options& o) { o.members.clear(); },
       "cluster options: no members"},
      {"empty member name", [](cluster_options& o) { o.members[1].name.clear(); },
       "cluster options: member 2: member name is empty"},
      {"long member name", [](cluster_options& o) { o.members[0].name = std::string(65, 'm'); },
       "member 1: member name 'mmm"},
      {"empty host", [](cluster_options& o) { o.members[1].host.clear(); },
       "cluster options: member 'beta': host is empty"},
      {"bad host", [](cluster_options& o) { o.members[1].host = "a b"; },
       "member 'beta': host 'a b' may only contain"},
      {"port 0", [](cluster_options& o) { o.members[2].port = 0; },
       "member 'gamma': port 0 is not in 1..65535"},
      {"duplicate name", [](cluster_options& o) { o.members[2].name = "alpha"; },
       "member 'alpha' is listed twice (members 1 and 3)"},
      {"duplicate address", [](cluster_options& o) { o.members[2].host = "10.0.0.2"; },
       "member 'gamma' has the address 10.0.0.2:4100 of member 'beta'"},
      {"self not a member", [](cluster_options& o) { o.self = "delta"; },
       "cluster options: this node 'delta' is not a member; the members are alpha, beta, gamma"},
      {"self empty", [](cluster_options& o) { o.self.clear(); },
       "this node's name is empty; it must be one of the members: alpha, beta, gamma"},
      {"only a certificate", [](cluster_options& o) { o.certificate = "n.pem"; },
       "certificate, key and ca are all set (mutual TLS) or all empty (plain TCP); key and ca "
       "are empty"},
      {"no ca", [](cluster_options& o) {
         o.certificate = "n.pem";
         o.key = "n.key";
       },
       "ca is empty"},
      {"only a ca", [](cluster_options& o) { o.ca = "ca.pem"; }, "certificate and key are empty"},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    auto opts = three_members();
    r.edit(opts);
    auto checked = multistore::validate(opts);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().code == errc::invalid_options);
    CHECK_THAT(checked.error().message, Catch::Contains(r.says));
  }

  auto tls = three_members();
  tls.certificate = "n.pem";
  tls.key = "n.key";
  tls.ca = "ca.pem";
  CHECK(multistore::validate(tls));
  CHECK(multistore::uses_tls(tls));
}

// -- hello --------------------------------------------------------------------------

TEST_CASE("a hello from another member of the same cluster is accepted", "[cluster][hello]") {
  auto ours = three_members();
  auto theirs_opts = three_members();
  theirs_opts.self = "beta";
  std::reverse(theirs_opts.members.begin(), theirs_opts.members.end());  // order does not matter
  auto theirs = multistore::make_hello(theirs_opts);
  CHECK(theirs.cluster == "orders");
  CHECK(theirs.member == "beta");
  CHECK(theirs.protocol_version == multistore::cluster_protocol_version);
  CHECK(theirs.members_digest == multistore::member_digest(ours.members));
  CHECK(multistore::check_hello(theirs, ours));
  CHECK(multistore::check_hello(theirs, ours, "beta"));
}

TEST_CASE("a hello that does not fit is refused saying why", "[cluster][hello]") {
  auto ours = three_members();
  auto from_beta = [&] {
    auto o = three_members();
    o.self = "beta";
    return multistore::make_hello(o);
  };
  auto refused = [&](const multistore::hello& h, std::string_view expected = {}) {
    auto r = multistore::check_hello(h, ours, expected);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_options);
    return r.error().message;
  };

  auto other_cluster = from_beta();
  other_cluster.cluster = "billing";
  CHECK(refused(other_cluster)
        == "node 'beta' belongs to cluster 'billing', this node to 'orders'");

  auto garbage_cluster = from_beta();
  garbage_cluster.cluster = "bad\x01name";
  CHECK_THAT(refused(garbage_cluster), Catch::Contains("a cluster with an invalid name"));

  auto other_digest = from_beta();
  other_digest.members_digest ^= 1;
  auto digest_message = refused(other_digest);
  CHECK_THAT(digest_message, Catch::StartsWith("node 'beta' has another member list (digest 0x"));
  char ours_hex[24];
  std::snprintf(ours_hex, sizeof ours_hex, "0x%016llx",
                static_cast<unsigned long long>(multistore::member_digest(ours.members)));
  char theirs_hex[24];
  std::snprintf(theirs_hex, sizeof theirs_hex, "0x%016llx",
                static_cast<unsigned long long>(other_digest.members_digest));
  CHECK_THAT(digest_message, Catch::Contains(std::string{"digest "} + theirs_hex
                                             + ", this node's " + ours_hex));

  auto other_version = from_beta();
  other_version.protocol_version = 2;
  CHECK(refused(other_version)
        == "node 'beta' speaks cluster protocol version 2, this node version 1; run the same "
           "release on every node");

  auto stranger = from_beta();
  stranger.member = "delta";
  CHECK(refused(stranger)
        == "node 'delta' is not a member of cluster 'orders' (members: alpha, beta, gamma)");

  auto ourselves = from_beta();
  ourselves.member = "alpha";
  CHECK_THAT(refused(ourselves), Catch::StartsWith("node 'alpha' has this node's own name"));

  CHECK(refused(from_beta(), "gamma")
        == "the address of member 'gamma' answered as node 'beta'; check the hosts and ports in "
           "the cluster file");

  auto hostile_name = from_beta();
  hostile_name.member = "be\nta";
  CHECK_THAT(refused(hostile_name), Catch::Contains("not a member name"));
  hostile_name.member = std::string(10000, 'b');
  CHECK(refused(hostile_name).size() < 200);
}
