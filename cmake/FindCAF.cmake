#[=======================================================================[.rst:
FindCAF
-------

Finds the C++ Actor Framework as Debian's libcaf-dev 0.17 ships it: headers and
shared libraries, but no CMake package configuration and no pkg-config file.

Components: ``core`` (always), ``io``, ``openssl``.

Imported targets: ``CAF::core`` (links Threads), ``CAF::io`` (links core) and
``CAF::openssl`` (links io), each defined when found.

Result variables: ``CAF_FOUND``, ``CAF_VERSION``, ``CAF_INCLUDE_DIR``,
``CAF_<component>_LIBRARY``.
#]=======================================================================]

find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" _caf_v "${_caf_version_line}")
  math(EXPR _caf_major "${_caf_v} / 10000")
  math(EXPR _caf_minor "(${_caf_v} / 100) % 100")
  math(EXPR _caf_patch "${_caf_v} % 100")
  set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
endif()

set(_caf_components core ${CAF_FIND_COMPONENTS})
list(REMOVE_DUPLICATES _caf_components)
foreach(_comp IN LISTS _caf_components)
  find_library(CAF_${_comp}_LIBRARY NAMES caf_${_comp})
  if(CAF_${_comp}_LIBRARY)
    set(CAF_${_comp}_FOUND TRUE)
  endif()
  mark_as_advanced(CAF_${_comp}_LIBRARY)
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)
mark_as_advanced(CAF_INCLUDE_DIR)

if(CAF_FOUND)
  find_package(Threads REQUIRED)
  # Each component links the one before it: core links Threads, io core, openssl io.
  set(_caf_dependency Threads::Threads)
  foreach(_comp IN ITEMS core io openssl)
    if(CAF_${_comp}_FOUND AND NOT TARGET CAF::${_comp})
      add_library(CAF::${_comp} SHARED IMPORTED)
      set_target_properties(CAF::${_comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${_comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES ${_caf_dependency})
    endif()
    set(_caf_dependency CAF::${_comp})
  endforeach()
endif()
