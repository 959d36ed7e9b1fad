// SPDX-License-Identifier: BSD-2-Clause
#include <cstdlib>
#include <unistd.h>

#include "store/store.hpp"

#include "core/error.hpp"

namespace ptool::store {

namespace fs = std::filesystem;

static fs::path
expand_user(const std::string& p)
{
  if (p == "~" || p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) {
      return fs::path(home) / p.substr(p.size() > 1 ? 2 : 1);
    }
  }
  return p;
}

fs::path
locate(const std::optional<std::string>& path_option)
{
  if (path_option && !path_option->empty()) {
    return expand_user(*path_option);
  }
  const char* env = std::getenv("TPM2_PKCS11_STORE");
  if (env && *env) {
    return env;
  }
  static constexpr const char* k_system_store = "/etc/tpm2_pkcs11";
  std::error_code ec;
  if (fs::is_directory(k_system_store, ec) && access(k_system_store, W_OK) == 0) {
    return k_system_store;
  }
  const char* home = std::getenv("HOME");
  if (home && *home == '/') {
    return fs::path(home) / ".tpm2_pkcs11";
  }
  // Never the current directory: a store planted there (or a relative HOME) would be read by
  // whatever runs in it, the PKCS#11 module inside ssh or a browser included.
  throw Error(ExitCode::k_not_found,
              "no store location: HOME is " + std::string(home ? "not an absolute path" : "unset")
                + " and neither --path nor TPM2_PKCS11_STORE is given",
              "pass --path DIR or set TPM2_PKCS11_STORE (or HOME)");
}

} // namespace ptool::store
