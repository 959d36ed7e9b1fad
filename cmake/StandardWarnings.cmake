# SPDX-License-Identifier: BSD-2-Clause
add_library(ptool_warnings INTERFACE)
target_compile_options(ptool_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
  -Wcast-align -Woverloaded-virtual -Wformat=2)
if(PTOOL_ENABLE_ASAN_UBSAN)
  # GCC 12's sanitizer instrumentation makes -Wmaybe-uninitialized report false positives
  # inside libstdc++ (std::regex, std::function); the ASan/UBSan run itself catches real ones.
  target_compile_options(ptool_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
if(PTOOL_WARNINGS_AS_ERRORS)
  target_compile_options(ptool_warnings INTERFACE -Werror)
endif()
