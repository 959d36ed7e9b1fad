// SPDX-License-Identifier: BSD-2-Clause
// The primary a plain `init` (and `ssh-keygen` on an empty store, and the PKCS#11 module's
// C_InitToken on a store without one) hangs tokens under.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include <tss2/tss2_esys.h>

#include "core/model.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::tpm {

// The handle a plain `init` persists at first (as upstream's tool does).
constexpr TPM2_HANDLE k_default_primary_handle = 0x81000001;

struct DefaultPrimary
{
  std::optional<PersistentPrimary> created; // commit() it once the store row commits
  Bytes esys_tr;                            // serialized ESYS_TR for the primary row
  bool adopted = false;                     // an identical primary already sat there
};

// A primary with an empty auth from the tpm2-tools default template: the one already at
// 0x81000001 when it was made from that very template (same seed and template, same key, so
// no identical copy fills the TPM's NV), else a new one persisted at 0x81000001, else at the
// next free handle.
void default_primary(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth,
                     DefaultPrimary& out);

} // namespace ptool::tpm
