#include "multistore/placement.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include <xxhash.h>

namespace multistore {

namespace {

// Every valid member name and store id (64 + 1 + 120 bytes) fits: one
// XXH64() call on the stack, no state to allocate.
constexpr std::size_t stack_bytes = 256;

std::uint64_t streamed_weight(std::string_view member_name, std::string_view store_id) noexcept {
  XXH64_state_t* state = XXH64_createState();
  if (state == nullptr)
    std::abort();  // out of memory in a noexcept function
  const char zero = '\0';
  XXH64_reset(state, 0);
  XXH64_update(state, member_name.data(), member_name.size());
  XXH64_update(state, &zero, 1);
  XXH64_update(state, store_id.data(), store_id.size());
  auto hash = XXH64_digest(state);
  XXH64_freeState(state);
  return hash;
}

}  // namespace

std::uint64_t placement_weight(std::string_view member_name, std::string_view store_id) noexcept {
  auto size = member_name.size() + 1 + store_id.size();
  if (size > stack_bytes)
    return streamed_weight(member_name, store_id);
  std::array<char, stack_bytes> buf;
  if (!member_name.empty())
    std::memcpy(buf.data(), member_name.data(), member_name.size());
  buf[member_name.size()] = '\0';
  if (!store_id.empty())
    std::memcpy(buf.data() + member_name.size() + 1, store_id.data(), store_id.size());
  return XXH64(buf.data(), size, 0);
}

std::size_t owner_index(std::string_view store_id,
                        std::span<const cluster_member> members) noexcept {
  assert(!members.empty());
  std::size_t best = 0;
  auto best_weight = placement_weight(members[0].name, store_id);
  for (std::size_t i = 1; i < members.size(); ++i) {
    auto weight = placement_weight(members[i].name, store_id);
    if (weight > best_weight || (weight == best_weight && members[i].name < members[best].name)) {
      best = i;
      best_weight = weight;
    }
  }
  return best;
}

const std::string& owner_of(std::string_view store_id, std::span<const cluster_member> members) {
  return members[owner_index(store_id, members)].name;
}

std::uint64_t member_digest(const std::vector<cluster_member>& members) {
  std::vector<const cluster_member*> sorted;
  sorted.reserve(members.size());
  for (const auto& m : members)
    sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](const cluster_member* a, const cluster_member* b) {
    return std::tie(a->name, a->host, a->port) < std::tie(b->name, b->host, b->port);
  });
  std::string text;
  for (const auto* m : sorted) {
    text += m->name;
    text += '\0';
    text += m->host;
    text += '\0';
    text += std::to_string(m->port);
    text += '\n';
  }
  return XXH64(text.data(), text.size(), 0);
}

}  // namespace multistore
