#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "multistore/errors.hpp"
#include "multistore/store_info.hpp"

using multistore::errc;

TEST_CASE("every errc value has a distinct name", "[errors]") {
  std::set<std::string> names;
  for (auto v = static_cast<int>(multistore::errc_first); v <= static_cast<int>(multistore::errc_last);
       ++v) {
    auto name = std::string{multistore::to_string(static_cast<errc>(v))};
    CHECK(name != "unknown");
    names.insert(name);
  }
  CHECK(names.size() == static_cast<std::size_t>(multistore::errc_last));
  CHECK(multistore::to_string(errc::invalid_store_id) == "invalid_store_id");
  CHECK(multistore::to_string(errc::no_registry) == "no_registry");
  CHECK(multistore::to_string(errc::overloaded) == "overloaded");
  CHECK(multistore::to_string(errc::unavailable) == "unavailable");
  CHECK(multistore::to_string(static_cast<errc>(0)) == "unknown");
  CHECK(multistore::to_string(static_cast<errc>(200)) == "unknown");
}

TEST_CASE("errc values start at 1 and keep their order", "[errors]") {
  CHECK(static_cast<int>(errc::invalid_store_id) == 1);
  CHECK(static_cast<int>(errc::schema_mismatch) == 3);
  CHECK(static_cast<int>(errc::no_registry) == 11);
  CHECK(static_cast<int>(errc::overloaded) == 12);  // appended: the values before keep theirs
  CHECK(static_cast<int>(errc::unavailable) == 13);
}

TEST_CASE("store_error carries its code and a readable message", "[errors]") {
  multistore::store_error e{errc::store_disposed, "store 'a' was disposed"};
  CHECK(e.code() == errc::store_disposed);
  CHECK(std::string{e.what()} == "store_disposed: store 'a' was disposed");
  multistore::store_error from_value{multistore::error{errc::cancelled, ""}};
  CHECK(from_value.code() == errc::cancelled);
  CHECK(std::string{from_value.what()} == "cancelled");
}

TEST_CASE("every store_state value has a name", "[errors]") {
  using multistore::store_state;
  CHECK(multistore::to_string(store_state::loading) == "loading");
  CHECK(multistore::to_string(store_state::active) == "active");
  CHECK(multistore::to_string(store_state::inactive) == "inactive");
  CHECK(multistore::to_string(store_state::disposed) == "disposed");
  CHECK(multistore::to_string(static_cast<store_state>(0)) == "unknown");
}

TEST_CASE("a failed system call keeps its code unless it ran out of file descriptors",
          "[errors]") {
  auto e = multistore::system_error(errc::load_failed, "cannot open x", ENOENT);
  CHECK(e.code == errc::load_failed);
  CHECK(e.message == std::string{"cannot open x: "} + std::strerror(ENOENT));
  for (int err : {EMFILE, ENFILE}) {
    auto full = multistore::system_error(errc::load_failed, "cannot open x", err);
    CHECK(full.code == errc::storage_failed);
    CHECK_THAT(full.message, Catch::StartsWith("cannot open x: ")
                                 && Catch::EndsWith("(out of file descriptors)"));
  }
  CHECK_FALSE(multistore::out_of_descriptors(EACCES));
}
