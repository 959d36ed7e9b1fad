// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include <tss2/tss2_esys.h>

namespace ptool::tpm {

// The TPM handle inside a serialized ESYS_TR (its first 4 bytes, big endian); 0 when the
// blob is too short.
TPM2_HANDLE handle_of_serialized_tr(std::span<const uint8_t> esys_tr);

enum class EvictResult { k_evicted, k_not_present };

// Removes the persistent object a store's primary row names (TPM2_EvictControl, owner
// hierarchy). Returns k_not_present when nothing is persisted at its handle any more.
// Throws Error when the handle now holds a different object (its name differs from the
// serialized one; evicting it would destroy someone else's key) or the TPM refuses. A
// non-empty hierarchy auth goes through a salted HMAC session, never as a cleartext password.
EvictResult evict_persistent(ESYS_CONTEXT* ctx, std::span<const uint8_t> esys_tr,
                             std::span<const uint8_t> hierarchy_auth);

} // namespace ptool::tpm
