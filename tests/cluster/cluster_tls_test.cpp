// Mutual TLS between cluster nodes, with a CA, node certificates and a
// foreign CA made at test time with the openssl command.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "node_process.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

void openssl(const std::string& args) {
  const auto cmd = "openssl " + args + " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

/// A CA (`<name>.crt`, `<name>.key`) in `dir`.
void make_ca(const fs::path& dir, const std::string& name) {
  openssl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + name + " -keyout "
          + (dir / (name + ".key")).string() + " -out " + (dir / (name + ".crt")).string());
}

/// `node.crt` and `node.key` in `node_dir`, signed by the CA `ca` in `ca_dir`.
void make_node_cert(const fs::path& node_dir, const fs::path& ca_dir, const std::string& ca,
                    const std::string& common_name) {
  const auto key = (node_dir / "node.key").string(), csr = (node_dir / "node.csr").string();
  openssl("req -newkey rsa:2048 -nodes -subj /CN=" + common_name + " -keyout " + key + " -out "
          + csr);
  openssl("x509 -req -days 2 -in " + csr + " -CA " + (ca_dir / (ca + ".crt")).string()
          + " -CAkey " + (ca_dir / (ca + ".key")).string() + " -CAcreateserial -out "
          + (node_dir / "node.crt").string());
}

/// `node_dir/cluster.conf`: the members of `members_file` plus a tls line
/// with paths relative to the file (each node its own certificate).
std::string tls_cluster_file(const fs::path& node_dir, const std::string& members_file) {
  std::ifstream in{members_file};
  std::string text;
  for (std::string line; std::getline(in, line);)
    text += line + "\n";
  auto path = (node_dir / "cluster.conf").string();
  std::ofstream{path} << text << "tls node.crt node.key ca.crt\n";
  return path;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string members_when(node_process& node, const std::string& expected,
                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto answer = node.ask("members");
  while (answer != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    answer = node.ask("members");
  }
  return answer;
}

}  // namespace

TEST_CASE("nodes with certificates from the cluster's CA link over mutual TLS, and a certificate "
          "from a foreign CA is refused",
          "[cluster][multiprocess][tls]") {
  temp_dir dir;
  const auto members = write_cluster_file(dir.path(), {"alpha", "beta"}, "tls", "members.conf");
  const auto ca_dir = dir.path() / "ca";
  fs::create_directories(ca_dir);
  make_ca(ca_dir, "ca");
  make_ca(ca_dir, "foreign");
  auto node_dir = [&](const std::string& name) {
    auto d = dir.path() / name;
    fs::create_directories(d / "data");
    return d;
  };
  const auto a = node_dir("alpha"), b = node_dir("beta"), f = node_dir("beta-foreign");
  make_node_cert(a, ca_dir, "ca", "alpha");
  make_node_cert(b, ca_dir, "ca", "beta");
  make_node_cert(f, ca_dir, "foreign", "beta");
  for (const auto& d : {a, b, f})
    fs::copy_file(ca_dir / "ca.crt", d / "ca.crt");  // the foreign node even trusts our CA

  node_process alpha{tls_cluster_file(a, members), "alpha", a / "data"};
  REQUIRE(alpha.read_line() == "ok ready");
  std::string id;
  {
    node_process beta{tls_cluster_file(b, members), "beta", b / "data"};
    REQUIRE(beta.read_line() == "ok ready");
    REQUIRE(members_when(alpha, "ok alpha:up,beta:up", 5s) == "ok alpha:up,beta:up");
    for (int i = 0; id.empty(); ++i)
      if (alpha.ask("owner store-" + std::to_string(i)) == "ok beta")
        id = "store-" + std::to_string(i);
    REQUIRE(alpha.ask("use " + id) == "ok");
    CHECK(alpha.ask("commit " + id + " secret") == "ok");
    CHECK(beta.ask("use " + id) == "ok");
    CHECK(beta.ask("texts " + id) == "ok secret");
    CHECK(alpha.ask("release " + id) == "ok");
  }
  CHECK(members_when(alpha, "ok alpha:up,beta:down", 3s) == "ok alpha:up,beta:down");
  // The same member name and port, a certificate our CA did not sign.
  node_process impostor{tls_cluster_file(f, members), "beta", f / "data"};
  REQUIRE(impostor.read_line() == "ok ready");
  std::this_thread::sleep_for(2s);
  CHECK(alpha.ask("members") == "ok alpha:up,beta:down");
  CHECK(starts_with(alpha.ask("use " + id), "err unavailable"));
}
