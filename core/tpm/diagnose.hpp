// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <tss2/tss2_esys.h>

#include "core/tpm/templates.hpp"

namespace ptool::tpm {

// What `tpm2-ptool doctor` reports about the TPM (TPM2_GetCapability, no auth needed).
struct TpmProperties
{
  std::string manufacturer; // TPM2_PT_MANUFACTURER as its four ASCII letters, e.g. "IBM "
  std::string vendor;       // TPM2_PT_VENDOR_STRING_1..4
  uint32_t firmware1 = 0;   // TPM2_PT_FIRMWARE_VERSION_1 / _2
  uint32_t firmware2 = 0;
  uint32_t revision = 0; // TPM2_PT_REVISION (e.g. 164 = 1.64)
  uint32_t lockout_counter = 0;
  uint32_t max_auth_fail = 0;
  uint32_t lockout_interval = 0; // seconds until one failure is forgotten
  uint32_t lockout_recovery = 0;
  bool in_lockout = false; // TPMA_PERMANENT inLockout
};
TpmProperties read_properties(ESYS_CONTEXT* ctx);

// After a refused PIN or auth: how many tries are left before the TPM's dictionary-attack
// lockout and how long one failure is remembered; in lockout, how long until the next try.
// Empty when the TPM cannot tell (GetCapability failed).
std::string lockout_note(ESYS_CONTEXT* ctx);

// "8217.4131.22.13.3"-style firmware text as tpm2-tools prints it.
std::string firmware_text(const TpmProperties& p);

// Whether this TPM accepts addkey's template for `alg` (TPM2_TestParms).
bool supports(ESYS_CONTEXT* ctx, const KeyAlgorithm& alg);

// The name of the tpm2-tools primary template (primary_template_names()) whose public area
// equals the object at `handle`, ignoring the unique field; nullopt when none matches or the
// handle cannot be read.
std::optional<std::string> matching_primary_template(ESYS_CONTEXT* ctx, TPM2_HANDLE handle);

} // namespace ptool::tpm
