// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include <tss2/tss2_tpm2_types.h>

#include "core/secure_bytes.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::tpm {

// TPM2_ObjectChangeAuth of a child of the token's primary: loads (pub, priv), proves
// `old_auth` to the TPM and returns the new private blob protected by `new_auth`. The
// public part does not change. A wrong `old_auth` fails with Error(k_auth); the TPM
// counts it towards its dictionary-attack lockout like any wrong PIN. `last` ends the
// session with this command (saves a FlushContext) when nothing else follows.
TPM2B_PRIVATE change_auth(PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
                          std::span<const uint8_t> old_auth, std::span<const uint8_t> new_auth,
                          AuthKind kind, bool last = false);

// The TPM name of a public area: nameAlg || H_nameAlg(TPMT_PUBLIC). SHA-256 names only.
Bytes object_name(const TPM2B_PUBLIC& pub);

// TPM2_Import of a key whose secret we hold in software (import command): the sensitive
// area goes in with an inner wrapper (AES-128-CFB under a one-time key that travels as the
// command's session-encrypted first parameter), so it never crosses the bus in clear.
// Returns the private blob under the token's primary.
TPM2B_PRIVATE import_sensitive(PrimaryContext& pc, const TPM2B_PUBLIC& pub,
                               const TPMT_SENSITIVE& sensitive);

} // namespace ptool::tpm
