# SPDX-License-Identifier: BSD-2-Clause
# Language level, hardening and sanitizers for every first-party target (linked PRIVATE).
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

add_library(ptool_settings INTERFACE)
target_compile_options(ptool_settings INTERFACE -fstack-protector-strong)
if(NOT PTOOL_ENABLE_ASAN_UBSAN AND NOT PTOOL_BUILD_FUZZERS)
  # ASan does not check the __*_chk variants fortify substitutes, so drop it there.
  target_compile_definitions(ptool_settings INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
endif()
target_link_options(ptool_settings INTERFACE -Wl,-z,relro -Wl,-z,now)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

if(PTOOL_ENABLE_ASAN_UBSAN)
  target_compile_options(ptool_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(ptool_settings INTERFACE -fsanitize=address,undefined)
endif()

# libFuzzer: every first-party target gets coverage + ASan + UBSan instrumentation; the fuzz
# targets themselves add -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt).
if(PTOOL_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PTOOL_BUILD_FUZZERS needs clang (libFuzzer), not "
      "${CMAKE_CXX_COMPILER_ID}: configure with CC=clang CXX=clang++ (Debian: clang, "
      "libclang-rt-14-dev), or use scripts/fuzz")
  endif()
  if(PTOOL_ENABLE_TESTING)
    message(FATAL_ERROR "PTOOL_BUILD_FUZZERS needs -DPTOOL_ENABLE_TESTING=OFF (the unit tests "
      "cannot link the fuzzer-instrumented core); the normal build replays the fuzz corpus")
  endif()
  target_compile_options(ptool_settings INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(ptool_settings INTERFACE -fsanitize=address,undefined)
endif()

# ThreadSanitizer: its runtime cannot be combined with ASan's. scripts/test builds only the module
# and tests/stress with it.
if(PTOOL_ENABLE_TSAN)
  if(PTOOL_ENABLE_ASAN_UBSAN)
    message(FATAL_ERROR "PTOOL_ENABLE_TSAN and PTOOL_ENABLE_ASAN_UBSAN are mutually exclusive")
  endif()
  target_compile_options(ptool_settings INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(ptool_settings INTERFACE -fsanitize=thread)
endif()
