#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "multistore/client_identity.hpp"
#include "multistore/store_id.hpp"
#include "test_schemas.hpp"

using namespace test_schemas;
namespace fs = std::filesystem;

TEST_CASE("the client id is created once in its directory and read back", "[identity]") {
  temp_dir tmp;
  auto dir = tmp / "data";
  auto first = multistore::load_or_create_client_id(dir);
  REQUIRE(first);
  CHECK(first->size() == 32);
  CHECK(multistore::is_valid_store_id(*first));
  CHECK(fs::exists(dir / ".client-id"));
  auto again = multistore::load_or_create_client_id(dir);
  REQUIRE(again);
  CHECK(*again == *first);
  // No temporary file is left behind.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{".client-id"});

  temp_dir other;
  auto elsewhere = multistore::load_or_create_client_id(other.path());
  REQUIRE(elsewhere);
  CHECK(*elsewhere != *first);
}

TEST_CASE("a client id file that holds no valid id is load_failed", "[identity]") {
  temp_dir tmp;
  {
    std::ofstream out{tmp / ".client-id"};
    out << "not/valid\n";
  }
  auto r = multistore::load_or_create_client_id(tmp.path());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == multistore::errc::load_failed);
  std::ifstream in{tmp / ".client-id"};
  std::string kept;
  std::getline(in, kept);
  CHECK(kept == "not/valid");  // never overwritten
}

TEST_CASE("session ids are 16 random hex digits", "[identity]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto id = multistore::make_random_id();
    CHECK(id.size() == 16);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}
