# One INTERFACE target carries the project's warning and sanitizer flags; every
# target links it PRIVATE so nothing leaks into consumers.
add_library(multistore_warnings INTERFACE)
target_compile_options(multistore_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  # Users write store_options{.store_id = ...} and skip members on purpose.
  -Wno-missing-field-initializers)
if(MULTISTORE_WARNINGS_AS_ERRORS)
  target_compile_options(multistore_warnings INTERFACE -Werror)
endif()

# Sanitizers apply to every translation unit and link of the build, tests included.
if(MULTISTORE_SANITIZERS)
  add_compile_options(-fsanitize=${MULTISTORE_SANITIZERS} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MULTISTORE_SANITIZERS})
  # GCC 12 under -fsanitize reports std::regex's own std::function members
  # (libstdc++'s regex_automaton.h) as maybe-uninitialized; the normal build
  # keeps the warning an error, here it stays a warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(multistore_warnings INTERFACE -Wno-error=maybe-uninitialized)
  endif()
endif()
