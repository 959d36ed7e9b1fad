// SPDX-License-Identifier: BSD-2-Clause
// Where this binary's PKCS#11 module is (see module_path.hpp and cli/CMakeLists.txt).
#include "cli/module_path.hpp"

#include <filesystem>
#include <system_error>

#ifndef PTOOL_MODULE_PATH
#define PTOOL_MODULE_PATH "/usr/lib/pkcs11/tpm2-ptool-pkcs11.so"
#endif
#ifndef PTOOL_MODULE_FROM_BINDIR
#define PTOOL_MODULE_FROM_BINDIR "../lib/pkcs11/tpm2-ptool-pkcs11.so"
#endif

namespace ptool::cli {

namespace fs = std::filesystem;

std::string
module_path()
{
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.is_absolute()) {
#if defined(PTOOL_BUILD_BINARY) && defined(PTOOL_BUILD_MODULE)
    std::error_code eq;
    if (fs::equivalent(exe, PTOOL_BUILD_BINARY, eq)
        && fs::is_regular_file(PTOOL_BUILD_MODULE, eq)) {
      return PTOOL_BUILD_MODULE;
    }
#endif
    fs::path installed = (exe.parent_path() / PTOOL_MODULE_FROM_BINDIR).lexically_normal();
    if (fs::is_regular_file(installed, ec)) {
      return installed.string();
    }
  }
  return PTOOL_MODULE_PATH;
}

} // namespace ptool::cli
