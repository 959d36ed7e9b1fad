// SPDX-License-Identifier: BSD-2-Clause
#pragma once

// The one place the module includes the PKCS#11 header (p11-kit's copy, standard names).
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <string>

#include "core/error.hpp"

namespace ptool::p11 {

// The CK_RV a ptool::Error of this reason answers a PKCS#11 call with (the module's one
// table; the CLI's is exit_code_of in core/error.hpp).
constexpr CK_RV
rv_of(Reason reason)
{
  switch (reason) {
  case Reason::k_wrong_auth:
    return CKR_PIN_INCORRECT;
  case Reason::k_lockout:
    return CKR_PIN_LOCKED;
  case Reason::k_unreachable:
    return CKR_DEVICE_ERROR;
  case Reason::k_usage:
    return CKR_ARGUMENTS_BAD;
  case Reason::k_unsupported:
    return CKR_MECHANISM_INVALID;
  case Reason::k_general:
  case Reason::k_tpm_full:
  case Reason::k_not_found:
  case Reason::k_store:
  case Reason::k_attest_failed:
  case Reason::k_attest_policy:
    break;
  }
  return CKR_FUNCTION_FAILED;
}

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
