// SPDX-License-Identifier: BSD-2-Clause
// Whole-TPM operations on behalf of a token: repairing a lost primary, clearing the lockout,
// checking a transient primary's template, probing the TPM's RSA-PSS salt. The primary
// itself (PrimaryContext, PersistentPrimary) is in core/tpm/primary.hpp, included here.
#pragma once

#include <optional>

#include "core/model.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/primary.hpp"

namespace ptool::tpm {

// init --repair: a persistent primary whose handle is empty (evicted by mistake or by another
// tool) is re-created in the owner hierarchy from its own public area (the unique field
// cleared: the template it was made from) and persisted at the same handle. A primary is a
// function of the hierarchy's seed and its template, so the result is the same object and
// every key blob under it loads again. Refuses (k_general) when the re-created object's name
// differs from the stored one: the owner seed changed (TPM cleared, or another TPM), and the
// keys under the primary are gone. k_present: the handle already holds that very primary.
enum class RepairResult { k_repaired, k_present };
RepairResult repair_primary(ESYS_CONTEXT* ctx, const Primary& primary,
                            std::span<const uint8_t> hierarchy_auth);

// TPM2_DictionaryAttackLockReset with the lockout hierarchy's auth (through a salted
// session when it is not empty). A wrong lockout auth is k_auth; the TPM then refuses the
// lockout hierarchy for its lockout-recovery time.
void clear_lockout(ESYS_CONTEXT* ctx, std::span<const uint8_t> lockout_auth);

// Creates a transient primary from `template_name` once to check that it works (init
// --transient-parent).
void validate_transient_primary(ESYS_CONTEXT* ctx, const std::string& template_name,
                                std::span<const uint8_t> hierarchy_auth,
                                std::span<const uint8_t> primary_auth);

// Upstream's pss-sigs-good: true when the TPM's RSA-PSS salt equals the hash length. Taken
// from the FIPS 140-2 mode bit when set; else one signature by a software RSA-2048 key loaded
// with TPM2_LoadExternal in the NULL hierarchy (no key generation in the TPM), flushed at once.
bool pss_sigs_good(ESYS_CONTEXT* ctx);

} // namespace ptool::tpm
