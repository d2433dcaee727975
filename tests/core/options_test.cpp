#include <catch2/catch.hpp>

#include "multistore/options.hpp"

using namespace std::chrono_literals;
using multistore::call_options;
using multistore::errc;
using multistore::registry_options;
using multistore::resolve_options;

namespace {

struct some_schema {};

call_options call(std::string id = "s1") {
  call_options c;
  c.store_id = std::move(id);
  return c;
}

}  // namespace

TEST_CASE("gc_time falls back from the call to the registry default to 60 s", "[options]") {
  registry_options reg;
  CHECK(resolve_options(call(), reg)->gc_time == 60s);
  reg.default_options.gc_time = 5s;
  CHECK(resolve_options(call(), reg)->gc_time == 5s);
  auto c = call();
  c.gc_time = 0ms;
  CHECK(resolve_options(c, reg)->gc_time == 0ms);
}

TEST_CASE("server mode defaults gc_time to gc_never but a call can still set it", "[options]") {
  registry_options reg{.server = true};
  CHECK(resolve_options(call(), reg)->gc_time == multistore::gc_never);
  reg.default_options.gc_time = 7s;
  CHECK(resolve_options(call(), reg)->gc_time == 7s);
  auto c = call();
  c.gc_time = 1s;
  CHECK(resolve_options(c, reg)->gc_time == 1s);
}

TEST_CASE("flags and sync_payload take the call over the registry default", "[options]") {
  registry_options reg;
  reg.default_options.disable_devtools = true;
  reg.default_options.sync_payload = {{"token", "default"}};
  reg.default_options.batch_updates = true;
  auto r = resolve_options(call(), reg);
  REQUIRE(r);
  CHECK(r->disable_devtools);
  CHECK_FALSE(r->confirm_unsaved_changes);
  CHECK(r->sync_payload == nlohmann::json{{"token", "default"}});
  CHECK(r->batch_updates);

  auto c = call();
  c.disable_devtools = false;
  c.confirm_unsaved_changes = true;
  c.sync_payload = {{"token", "mine"}};
  r = resolve_options(c, reg);
  CHECK_FALSE(r->disable_devtools);
  CHECK(r->confirm_unsaved_changes);
  CHECK(r->sync_payload == nlohmann::json{{"token", "mine"}});
}

TEST_CASE("debug options deep-merge with the call winning per key", "[options]") {
  registry_options reg;
  reg.default_options.debug = {{"level", "info"}, {"trace", {{"sql", true}, {"events", false}}}};
  auto c = call();
  c.debug = {{"trace", {{"events", true}}}, {"tag", "x"}};
  auto r = resolve_options(c, reg);
  REQUIRE(r);
  CHECK(r->debug == nlohmann::json{{"level", "info"},
                                   {"tag", "x"},
                                   {"trace", {{"sql", true}, {"events", true}}}});
}

TEST_CASE("store_options converts to call_options with storage and id from the call",
          "[options]") {
  multistore::store_options<some_schema> o{.store_id = "issue-1",
                                           .storage = multistore::sqlite_adapter{"data"},
                                           .gc_time = 20s};
  auto r = resolve_options(o, registry_options{});
  REQUIRE(r);
  CHECK(r->store_id == "issue-1");
  CHECK(std::get<multistore::sqlite_adapter>(r->storage).directory == "data");
  CHECK(std::get<multistore::sqlite_adapter>(r->storage).synchronous
        == multistore::sync_level::normal);
  CHECK(r->gc_time == 20s);
}

TEST_CASE("bad options are refused with invalid_options or invalid_store_id", "[options]") {
  auto c = call();
  c.gc_time = -1ms;
  auto r = resolve_options(c, registry_options{});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_options);
  CHECK_THAT(r.error().message, Catch::Contains("negative"));

  registry_options reg;
  reg.default_options.gc_time = -5s;
  REQUIRE_FALSE(multistore::validate(reg));
  r = resolve_options(call(), reg);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_options);

  r = resolve_options(call("no/slash"), registry_options{});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_store_id);

  auto file = call();
  file.storage = multistore::sqlite_adapter{};
  r = resolve_options(file, registry_options{});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_options);
  CHECK_THAT(r.error().message, Catch::Contains("directory"));
}

TEST_CASE("sync_level values have names", "[options]") {
  CHECK(multistore::to_string(multistore::sync_level::normal) == "normal");
  CHECK(multistore::to_string(multistore::sync_level::full) == "full");
  CHECK(multistore::to_string(static_cast<multistore::sync_level>(0)) == "unknown");
}
