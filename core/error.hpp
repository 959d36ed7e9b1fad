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

// The one error type of core/, store/ and cli/. `message` says what failed (one line, no
// secrets); `hint` says what to do about it (may be empty). main() prints both and exits
// with `code`; the PKCS#11 module maps `code` to a CK_RV.
class Error : public std::runtime_error
{
public:
  Error(ExitCode code, std::string message, std::string hint = {})
      : std::runtime_error(message), m_code(code), m_hint(std::move(hint))
  {}
  ExitCode code() const { return m_code; }
  const std::string& hint() const { return m_hint; }

private:
  ExitCode m_code;
  std::string m_hint;
};

[[noreturn]] inline void
throw_usage(std::string message, std::string hint = {})
{
  throw Error(ExitCode::k_usage, std::move(message), std::move(hint));
}

[[noreturn]] inline void
throw_not_found(std::string message, std::string hint = {})
{
  throw Error(ExitCode::k_not_found, std::move(message), std::move(hint));
}

} // namespace ptool
