#include <catch2/catch.hpp>

#include <string>

#include "multistore/store_id.hpp"

using namespace std::string_literals;

TEST_CASE("ids of letters digits underscore and dash are valid", "[store_id]") {
  for (const char* id : {"a", "workspace-root", "issue-42", "A_b-C_0", "0", "-", "_"}) {
    INFO(id);
    CHECK(multistore::is_valid_store_id(id));
    auto parsed = multistore::parse_store_id(id);
    REQUIRE(parsed);
    CHECK(*parsed == id);
  }
  CHECK(multistore::is_valid_store_id(std::string(120, 'x')));
}

TEST_CASE("hostile ids are refused with a message naming the problem", "[store_id]") {
  struct row {
    std::string id;
    std::string says;
  };
  const row rows[] = {
      {"", "empty"},
      {std::string(121, 'x'), "121 characters long"},
      {"a/b", "character 2 is '/'"},
      {"..", "character 1 is '.'"},
      {"../etc", "character 1 is '.'"},
      {"/abs", "character 1 is '/'"},
      {"a b", "character 2 is ' '"},
      {"a\\b", "character 2 is '\\x5c'"},
      {"nul\0x"s, "character 4 is '\\x00'"},
      {"caf\xc3\xa9", "character 4 is '\\xc3'"},
      {"semi;colon", "character 5 is ';'"},
      {"quote'", "character 6 is '\\x27'"},
      {"a.sqlite", "character 2 is '.'"},
  };
  for (const auto& r : rows) {
    INFO(r.id);
    CHECK_FALSE(multistore::is_valid_store_id(r.id));
    auto parsed = multistore::parse_store_id(r.id);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == multistore::errc::invalid_store_id);
    CHECK_THAT(parsed.error().message, Catch::Contains(r.says));
  }
}

TEST_CASE("a huge id is cut in the error message", "[store_id]") {
  auto parsed = multistore::parse_store_id(std::string(100000, 'y'));
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message.size() < 200);
}
