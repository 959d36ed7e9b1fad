# SPDX-License-Identifier: BSD-2-Clause
add_library(ptool_warnings INTERFACE)
target_compile_options(ptool_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
  -Wcast-align -Woverloaded-virtual -Wformat=2)
if(PTOOL_WARNINGS_AS_ERRORS)
  target_compile_options(ptool_warnings INTERFACE -Werror)
endif()
