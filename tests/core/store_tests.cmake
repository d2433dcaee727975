# The store engine's tests (issue 3), relative to tests/core/.
multistore_add_test(core_store_tests
  SOURCES store_engine_test.cpp store_query_test.cpp store_subscription_test.cpp
          store_schema_test.cpp store_file_test.cpp store_typed_test.cpp
          store_client_identity_test.cpp store_sqlite_test.cpp store_group_commit_test.cpp
  LIBS multistore::registry SQLite::SQLite3 LABELS core)

# Committing an event type outside the schema must not compile, and must fail
# with the static_assert's message rather than some other error: CTest builds
# this never-built target and looks for the message in the compiler output.
add_library(core_store_compile_fail OBJECT EXCLUDE_FROM_ALL store_commit_compile_fail.cpp)
target_link_libraries(core_store_compile_fail PRIVATE multistore::registry)
add_test(NAME "core_store_compile_fail: committing an event outside the schema does not compile"
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target core_store_compile_fail)
set_tests_properties(
  "core_store_compile_fail: committing an event outside the schema does not compile"
  PROPERTIES PASS_REGULAR_EXPRESSION "this event type is not in the schema's events list"
             LABELS core)
