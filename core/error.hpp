// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <stdexcept>
#include <string>

namespace ptool {

// The exit codes of tpm2-ptool: tpm2-tools' numbering, extended at the end only.
// Do not reorder: scripts depend on these numbers (documented in README.md and man/).
enum class ExitCode : int {
  k_ok = 0,
  k_general = 1,     // anything not covered below
  k_usage = 2,       // bad command line or option value
  k_auth = 3,        // wrong PIN / auth value, dictionary-attack lockout
  k_tcti = 4,        // TPM unreachable at the TCTI
  k_unsupported = 5, // this TPM does not support the algorithm or command
  k_not_found = 6,   // named primary, token, key or object does not exist

  // attest (docs/attestation.md): evidence that does not verify (chain, signature, nonce,
  // binding, a tampered document), and an attested key without fixedTPM / fixedParent /
  // sensitiveDataOrigin.
  k_attest_failed = 7,
  k_attest_policy = 8,
};

// Why an operation failed, set where the Error is made (above all by tpm::check_rc from the
// TPM's response code). Code decides on the reason, never on the message or hint text, so
// rewording a hint changes nothing but what people read. One table maps a reason to the
// exit code (exit_code_of, below); the PKCS#11 module has the one that maps it to a CK_RV.
enum class Reason {
  k_general,       // anything not covered below
  k_usage,         // bad command line, option value or argument
  k_wrong_auth,    // a wrong PIN, passphrase or auth value
  k_lockout,       // the TPM's dictionary-attack lockout (not a wrong value: retrying waits)
  k_tpm_full,      // the TPM is out of object / session memory or handles
  k_unreachable,   // the TPM or its TCTI cannot be reached, or the TPM was not started
  k_unsupported,   // this TPM does not implement the algorithm, parameters or command
  k_not_found,     // the named primary, token, key or object does not exist
  k_store,         // the store cannot be opened, read or written, or its content is malformed
  k_attest_failed, // attestation evidence does not verify
  k_attest_policy, // an attested key lacks the required attributes
};

// The exit code main() returns for `reason`.
constexpr ExitCode
exit_code_of(Reason reason)
{
  switch (reason) {
  case Reason::k_usage:
    return ExitCode::k_usage;
  case Reason::k_wrong_auth:
  case Reason::k_lockout:
    return ExitCode::k_auth;
  case Reason::k_unreachable:
    return ExitCode::k_tcti;
  case Reason::k_unsupported:
    return ExitCode::k_unsupported;
  case Reason::k_not_found:
    return ExitCode::k_not_found;
  case Reason::k_attest_failed:
    return ExitCode::k_attest_failed;
  case Reason::k_attest_policy:
    return ExitCode::k_attest_policy;
  case Reason::k_general:
  case Reason::k_tpm_full:
  case Reason::k_store:
    break;
  }
  return ExitCode::k_general;
}

// The plain reason behind an exit code, for errors made with only an ExitCode
// (exit_code_of(reason_of(c)) == c for every code).
constexpr Reason
reason_of(ExitCode code)
{
  switch (code) {
  case ExitCode::k_usage:
    return Reason::k_usage;
  case ExitCode::k_auth:
    return Reason::k_wrong_auth;
  case ExitCode::k_tcti:
    return Reason::k_unreachable;
  case ExitCode::k_unsupported:
    return Reason::k_unsupported;
  case ExitCode::k_not_found:
    return Reason::k_not_found;
  case ExitCode::k_attest_failed:
    return Reason::k_attest_failed;
  case ExitCode::k_attest_policy:
    return Reason::k_attest_policy;
  case ExitCode::k_ok:
  case ExitCode::k_general:
    break;
  }
  return Reason::k_general;
}

// The one error type of core/, store/ and cli/. `message` says what failed (one line, no
// secrets); `hint` says what to do about it (may be empty). main() prints both and exits
// with `code()` (from `reason()`); the PKCS#11 module maps `reason()` to a CK_RV.
class Error : public std::runtime_error
{
public:
  Error(Reason reason, std::string message, std::string hint = {})
      : std::runtime_error(message), m_reason(reason), m_hint(std::move(hint))
  {}
  Error(ExitCode code, std::string message, std::string hint = {})
      : Error(reason_of(code), std::move(message), std::move(hint))
  {}
  Reason reason() const { return m_reason; }
  ExitCode code() const { return exit_code_of(m_reason); }
  const std::string& hint() const { return m_hint; }

private:
  Reason m_reason;
  std::string m_hint;
};

[[noreturn]] inline void
throw_usage(std::string message, std::string hint = {})
{
  throw Error(Reason::k_usage, std::move(message), std::move(hint));
}

[[noreturn]] inline void
throw_not_found(std::string message, std::string hint = {})
{
  throw Error(Reason::k_not_found, std::move(message), std::move(hint));
}

} // namespace ptool
