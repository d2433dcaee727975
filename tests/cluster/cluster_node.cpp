// One cluster node for the multi-process tests: a registry on the middleman,
// driven line by line on stdin, one answer line on stdout for each:
//   "ok [value]" or "err <errc> <message>".
//
//   cluster_node --cluster FILE --node NAME --data DIR [--max-seconds N]
//
// Commands: use ID | commit ID TEXT | count ID | texts ID | write ID |
// release ID | owner ID | members | inspect ID | subscribe ID |
// unsubscribe ID | updates ID | clear | quit. (`write` tries a statement that
// writes through query(), which must be refused.) It ends by itself
// at EOF on stdin and after --max-seconds (a test that dies leaves nothing).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "multistore/multistore.hpp"
#include "schemas.hpp"

namespace {

using test_schemas::note_added;
using test_schemas::notes_schema;

std::string arg(int argc, char** argv, const std::string& name, std::string fallback = {}) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name)
      return argv[i + 1];
  return fallback;
}

void say(const std::string& line) {
  std::cout << line << std::endl;
}

struct node {
  multistore::store_registry& registry;
  std::filesystem::path data;
  std::map<std::string, multistore::store_handle<notes_schema>> handles;
  std::map<std::string, multistore::subscription> subscriptions;
  std::map<std::string, std::shared_ptr<std::atomic<int>>> updates;

  multistore::store_options<notes_schema> options(const std::string& id) const {
    // Relative: a node's use of a store another node owns names the
    // owner's directory, as the owner runs in its own (see main).
    return {.store_id = id, .storage = multistore::sqlite_adapter{"."}};
  }

  multistore::store_handle<notes_schema>& handle(const std::string& id) {
    auto i = handles.find(id);
    if (i == handles.end())
      throw multistore::store_error(multistore::errc::store_disposed, "no handle on " + id);
    return i->second;
  }

  std::string run(const std::string& cmd, const std::string& id, const std::string& rest) {
    if (cmd == "use") {
      handles.insert_or_assign(id, registry.use(options(id)));
      return "";
    }
    if (cmd == "commit") {
      handle(id).commit(note_added{rest});
      return "";
    }
    if (cmd == "count")
      return std::to_string(
          handle(id).query("SELECT COUNT(*) AS n FROM notes")[0]["n"].get<std::int64_t>());
    if (cmd == "texts") {
      std::string out;
      for (auto& row : handle(id).query("SELECT text FROM notes ORDER BY rowid"))
        out += (out.empty() ? "" : ",") + row["text"].get<std::string>();
      return out;
    }
    if (cmd == "write") {
      handle(id).query("DELETE FROM notes");
      return "";
    }
    if (cmd == "clear") {
      registry.clear().get();
      return "";
    }
    if (cmd == "unsubscribe") {
      subscriptions.erase(id);
      return "";
    }
    if (cmd == "release") {
      subscriptions.erase(id);
      handles.erase(id);
      return "";
    }
    if (cmd == "owner")
      return registry.owner_of(id);
    if (cmd == "members") {
      std::string out;
      for (auto& m : registry.members())
        out += (out.empty() ? "" : ",") + m.name + ":" + (m.up ? "up" : "down");
      return out;
    }
    if (cmd == "inspect") {
      auto info = registry.inspect(id);
      return "observers=" + std::to_string(info.observers)
             + " loads=" + std::to_string(info.loads);
    }
    if (cmd == "subscribe") {
      auto counter = std::make_shared<std::atomic<int>>(0);
      updates[id] = counter;
      subscriptions.insert_or_assign(
          id, handle(id).subscribe("SELECT COUNT(*) AS n FROM notes",
                                   [counter](const nlohmann::json&) { ++*counter; }));
      return "";
    }
    if (cmd == "updates")
      return updates.count(id) ? std::to_string(updates[id]->load()) : "0";
    throw multistore::store_error(multistore::errc::invalid_options, "unknown command " + cmd);
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto cluster = multistore::read_cluster_file(arg(argc, argv, "--cluster"),
                                               arg(argc, argv, "--node"));
  if (!cluster) {
    say("err " + std::string{multistore::to_string(cluster.error().code)} + " "
        + cluster.error().message);
    return 2;
  }
  const auto max_seconds = std::stoi(arg(argc, argv, "--max-seconds", "60"));
  std::thread([max_seconds] {
    std::this_thread::sleep_for(std::chrono::seconds{max_seconds});
    std::_Exit(3);  // the test is gone or stuck: never outlive it
  }).detach();
  // Every node runs in its data directory and names it ".", so a store's
  // directory means the same on whichever node asks for it.
  std::filesystem::current_path(arg(argc, argv, "--data"));
  caf::actor_system_config cfg;
  multistore::configure(cfg, *cluster);
  caf::actor_system sys{cfg};
  multistore::register_schema<notes_schema>();
  try {
    multistore::registry_options options;
    options.cluster = *cluster;
    multistore::store_registry registry{sys, options};
    node n{registry, arg(argc, argv, "--data"), {}, {}, {}};
    say("ok ready");
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in{line};
      std::string cmd, id, rest;
      in >> cmd >> id;
      std::getline(in >> std::ws, rest);
      if (cmd == "quit")
        break;
      try {
        auto value = n.run(cmd, id, rest);
        say(value.empty() ? "ok" : "ok " + value);
      } catch (const multistore::store_error& e) {
        say("err " + std::string{multistore::to_string(e.code())} + " " + e.what());
      } catch (const std::exception& e) {
        say("err exception " + std::string{e.what()});
      }
    }
  } catch (const multistore::store_error& e) {
    say("err " + std::string{multistore::to_string(e.code())} + " " + e.what());
    return 2;
  }
  return 0;
}
