// SPDX-License-Identifier: BSD-2-Clause
#pragma once

// The one place the module includes the PKCS#11 header (p11-kit's copy, standard names).
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <string>

namespace ptool::p11 {

// Thrown inside the module to answer a call with `rv`; entry.cpp turns it into the return
// value. Other exceptions are mapped there too (see entry.cpp).
struct CkError
{
  CK_RV rv;
};

[[noreturn]] inline void
fail(CK_RV rv)
{
  throw CkError{rv};
}

// Logging to stderr, only when TPM2_PTOOL_LOG asks for it (debug|info|warn); silent by
// default because hosts like ssh print our stderr to the user. Never pass secrets.
enum class LogLevel { k_debug = 0, k_info = 1, k_warn = 2, k_off = 3 };
void log_init();
bool log_enabled(LogLevel level);
void log(LogLevel level, const std::string& message);

} // namespace ptool::p11
