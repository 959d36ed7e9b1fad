// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>

namespace ptool::cli {

// The path of the tpm2-ptool-pkcs11.so that belongs to this binary, as ssh-config,
// ssh-keygen and doctor print it: the module where `cmake --install` (or the .deb) put it
// relative to the running binary, the build tree's module for the build tree's binary, else
// the configured install path (which may not exist).
std::string module_path();

} // namespace ptool::cli
