// SPDX-License-Identifier: BSD-2-Clause
#pragma once
// Software keys into the TPM (import command, the RSA-PSS probe): their TPM areas and
// TPM2_Import with an inner wrapper.

#include <span>

#include <tss2/tss2_tpm2_types.h>

#include "core/keys/private_key_codec.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::tpm {

// The TPM public and sensitive areas of a software key, as `tpm2_import` builds them for
// upstream's import (docs/store-format.md §5.5): nameAlg SHA-256, attributes
// sign|decrypt|userWithAuth (no fixedTPM/fixedParent: the key existed outside the TPM), NULL
// schemes. `hmac_hash` selects an HMAC-scheme keyed hash (sign|userWithAuth); TPM2_ALG_NULL gives
// upstream's generic secret (NULL scheme, sign|decrypt).
struct ImportAreas
{
  TPM2B_PUBLIC pub{};
  TPMT_SENSITIVE sensitive{};
  ~ImportAreas();
};
void build_import_areas(const keys::PlainKey& key, std::span<const uint8_t> auth,
                        TPM2_ALG_ID hmac_hash, ImportAreas& out);

// TPM2_Import of a key whose secret we hold in software (import command): the sensitive
// area goes in with an inner wrapper (AES-128-CFB under a one-time key that travels as the
// command's session-encrypted first parameter), so it never crosses the bus in clear.
// Returns the private blob under the token's primary.
TPM2B_PRIVATE import_sensitive(PrimaryContext& pc, const TPM2B_PUBLIC& pub,
                               const TPMT_SENSITIVE& sensitive);

} // namespace ptool::tpm
