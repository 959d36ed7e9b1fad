// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string>

#include <tss2/tss2_esys.h>

namespace ptool::tpm {

enum class EvictResult { k_evicted, k_not_present };

// Removes the persistent object a store's primary row names (TPM2_EvictControl, owner
// hierarchy). Returns k_not_present when nothing is persisted at its handle any more.
// Throws Error when the handle now holds a different object (its name differs from the
// serialized one; evicting it would destroy someone else's key) or the TPM refuses. A
// non-empty hierarchy auth goes through a salted HMAC session, never as a cleartext password.
EvictResult evict_persistent(ESYS_CONTEXT* ctx, std::span<const uint8_t> esys_tr,
                             std::span<const uint8_t> hierarchy_auth);

// Evicts a persistent primary that no store row references (left behind, for example, by an
// `init` killed between TPM2_EvictControl and its COMMIT). Refuses unless the object equals
// one of our primary templates (which are tpm2-tools' defaults): a primary is re-created from
// the hierarchy's seed at will, so evicting one destroys no key, whereas an ordinary key
// persisted there could be somebody's only copy. Returns the template's name. Errors: k_not_found
// when nothing is persisted there, k_usage for a non-persistent handle, k_auth for a wrong
// hierarchy auth.
std::string evict_orphan(ESYS_CONTEXT* ctx, TPM2_HANDLE handle,
                         std::span<const uint8_t> hierarchy_auth);

} // namespace ptool::tpm
