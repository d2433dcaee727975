// Must NOT compile: committing an event type that is not in the schema's
// events list. CTest builds this file and expects the static_assert message
// (see CMakeLists.txt).
#include "multistore/store.hpp"
#include "test_schemas.hpp"

void commit_a_stranger(multistore::store<test_schemas::todo_schema>& s) {
  s.commit(test_schemas::todo_added{"a", "fine"}, test_schemas::stranger_arrived{"not fine"});
}
