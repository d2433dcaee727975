# The store engine's sources (schema, store, sqlite/ wrappers), relative to libregistry/.
set(MULTISTORE_STORE_SOURCES
)
