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

// Logging to stderr at the level TPM2_PTOOL_LOG asks for (debug|info|warn|error|off). By
// default only k_error: one line when the TPM cannot be reached, which hosts like ssh show
// the user instead of a bare "error 48"; everything else is quiet. Never pass secrets.
enum class LogLevel { k_debug = 0, k_info = 1, k_warn = 2, k_error = 3, k_off = 4 };
void log_init();
bool log_enabled(LogLevel level);
void log(LogLevel level, const std::string& message);

} // namespace ptool::p11
