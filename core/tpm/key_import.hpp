// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include <tss2/tss2_tpm2_types.h>

#include "core/keys/private_key_codec.hpp"
#include "core/secure_bytes.hpp"

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

} // namespace ptool::tpm
