// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/default_primary.hpp"

#include "core/error.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/diagnose.hpp"

namespace ptool::tpm {

void
default_primary(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth, DefaultPrimary& out)
{
  // Asking PersistentPrimary for the default handle first costs no extra TPM command when the
  // handle is free (the usual case); it refuses, before any TPM work, when it is taken
  // (k_usage), or fails at EvictControl when a concurrent init took it meanwhile. Only with
  // an empty auth: an auth value is not in the public area, so it could not be checked.
  const SecureBytes no_auth;
  try {
    out.created.emplace(ctx, hierarchy_auth, no_auth, k_default_primary_handle);
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_usage && e.code() != ExitCode::k_general) {
      throw;
    }
  }
  if (out.created) {
    out.esys_tr = out.created->result().esys_tr;
  } else if (matching_primary_template(ctx, k_default_primary_handle) == "tpm2-tools-default") {
    out.adopted = true;
    out.esys_tr = read_persistent(ctx, k_default_primary_handle);
  } else {
    out.created.emplace(ctx, hierarchy_auth, no_auth, std::nullopt);
    out.esys_tr = out.created->result().esys_tr;
  }
}

} // namespace ptool::tpm
