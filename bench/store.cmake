# The store engine against raw SQLite (issue 3): prints same-run ratios.
add_executable(multistore_store_bench store_bench.cpp)
target_link_libraries(multistore_store_bench PRIVATE multistore::registry SQLite::SQLite3
                                                     multistore_warnings)
