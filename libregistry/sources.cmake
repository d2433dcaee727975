# The store engine's sources (schema, store, sqlite/ wrappers), relative to libregistry/.
set(MULTISTORE_STORE_SOURCES
  src/client_identity.cpp
  src/schema.cpp
  src/sql_value.cpp
  src/store_engine.cpp
  src/sqlite/connection.cpp
  src/sqlite/error.cpp
  src/sqlite/file_lock.cpp
  src/sqlite/statement.cpp
  src/sqlite/transaction.cpp
)
