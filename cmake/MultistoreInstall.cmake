# Install and export: find_package(multistore) then gives multistore::registry
# multistore::actors and multistore::devtools, and finds their dependencies (FindCAF.cmake ships along).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MULTISTORE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/multistore")

install(TARGETS multistore_registry multistore_actors multistore_devtools
  EXPORT multistore-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/libregistry/include/multistore"
                  "${PROJECT_SOURCE_DIR}/actors/include/multistore"
                  "${PROJECT_SOURCE_DIR}/devtools/include/multistore"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT multistore-targets NAMESPACE multistore:: DESTINATION ${MULTISTORE_CMAKE_DIR})

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/multistore-config.cmake.in"
  "${PROJECT_BINARY_DIR}/multistore-config.cmake"
  INSTALL_DESTINATION ${MULTISTORE_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/multistore-config-version.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/multistore-config.cmake"
              "${PROJECT_BINARY_DIR}/multistore-config-version.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake"
        DESTINATION ${MULTISTORE_CMAKE_DIR})
