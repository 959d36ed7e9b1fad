// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include <tss2/tss2_tpm2_types.h>

#include "core/secure_bytes.hpp"
#include "core/tpm/primary.hpp"

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

} // namespace ptool::tpm
