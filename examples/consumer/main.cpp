// Embeds multistore from its installed package: find_package(multistore).
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <multistore/multistore.hpp>

int main() {
  caf::actor_system_config cfg;
  multistore::configure(cfg);
  caf::actor_system sys{cfg};

  auto id = multistore::parse_store_id("tenant-1");
  if (!id) {
    std::cerr << id.error().message << '\n';
    return 1;
  }
  std::cout << "consumer: store id " << *id << " is valid\n";
  return 0;
}
