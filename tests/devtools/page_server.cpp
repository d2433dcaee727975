// Serves the devtools page over a registry with known content, for the
// browser test: prints the page's URL, then serves until killed or until
// the given number of seconds (default 60) has passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "multistore/devtools.hpp"
#include "multistore/multistore.hpp"
#include "schemas.hpp"
#include "system_fixture.hpp"

using namespace std::chrono_literals;
using multistore::store_options;
using test_schemas::comment_added;
using test_schemas::issue_created;
using test_schemas::issue_schema;
using test_schemas::note_added;
using test_schemas::notes_schema;

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 60;
  system_fixture s;
  multistore::store_registry registry{s.sys};
  {
    multistore::devtools_server devtools{registry};
    auto issue = registry.use(store_options<issue_schema>{
        .store_id = "issue-1", .storage = multistore::memory_adapter{}, .gc_time = 1h});
    issue.commit(issue_created{"1", "Crash on save"});
    issue.commit(comment_added{"1", "seen on 0.17"}, comment_added{"1", "fixed by the retry"});
    auto sub = issue.subscribe("SELECT count(*) AS n FROM comments", [](const auto&) {});
    {
      auto notes = registry.use(store_options<notes_schema>{
          .store_id = "notes-1", .storage = multistore::memory_adapter{}, .gc_time = 1h});
      notes.commit(note_added{"an inactive store"});
    }
    std::printf("%s\n", devtools.url().c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds{seconds});
  }
  registry.clear().get();
  return 0;
}
