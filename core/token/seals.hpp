// SPDX-License-Identifier: BSD-2-Clause
// A token's wrapping key, sealed under its user PIN and its SO PIN: the one place that
// knows how (two TPM seal objects holding the key's hex text, each with the auth
// crypto::hash_pass(PIN, salt) and a fresh random salt). The CLI's addtoken, initpin,
// changepin and the PKCS#11 module (C_Login, C_InitToken, C_InitPIN, C_SetPIN) call
// these; none writes the store: the caller stores the returned blobs in its transaction.
#pragma once

#include <span>

#include "core/model.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/primary.hpp"

namespace ptool::token {

// What create_token_seals returns: both seal objects (id and tokid unset) and the
// 32-byte wrapping key they hold, for a caller that goes on to add a key.
struct NewSeals
{
  SealObject seal;
  SecureBytes wrapping_key;
};

// A new random wrapping key sealed twice under the primary: under `userpin` and under
// `sopin`. `last` ends the primary's session with the second TPM2_Create.
NewSeals create_token_seals(tpm::PrimaryContext& pc, const SecureBytes& userpin,
                            const SecureBytes& sopin, bool last);

// A token made through PKCS#11 (C_InitToken): a new random wrapping key sealed under `sopin`
// only, as upstream's library does; the user seal comes with C_InitPIN (seal_wrapping_key).
// Returns the SO seal; `last` ends the primary's session with the TPM2_Create.
SealBlobs create_so_seal(tpm::PrimaryContext& pc, const SecureBytes& sopin, bool last);

// `key` (a token's 32-byte wrapping key, already unsealed) sealed in a brand-new seal object
// under `pin`: the module's C_InitPIN, where the SO's login holds the key.
SealBlobs seal_wrapping_key(tpm::PrimaryContext& pc, const SecureBytes& key, const SecureBytes& pin,
                            bool last);

// The token's 32-byte wrapping key from one of its seal objects and that seal's PIN. A
// wrong PIN is Error(k_auth) "wrong PIN (…)" with the tries left (or the lockout) in its
// hint. `last`: the TPM2_Unseal is the last command of the session (see
// PrimaryContext::unseal).
SecureBytes unseal_wrapping_key(tpm::PrimaryContext& pc, const SealBlobs& seal,
                                std::span<const uint8_t> pin, bool last = false);

// The SO (re)sets the user PIN: the wrapping key, unsealed from `so_seal` with `sopin`, is
// sealed again in a brand-new user seal object under `userpin`, which is returned. The
// session ends with the last TPM command.
SealBlobs reseal_user(tpm::PrimaryContext& pc, const SealBlobs& so_seal, const SecureBytes& sopin,
                      const SecureBytes& userpin);

// One seal object gets a new PIN with TPM2_ObjectChangeAuth: the TPM checks `old_pin`
// (a wrong one is Error(k_auth) "wrong old PIN (…)"), the wrapping key is untouched and a
// fresh salt is chosen. Returns the seal's new blobs (same public area). `last` ends the
// session with this command (the CLI); the module keeps a logged-in token's session.
SealBlobs change_pin(tpm::PrimaryContext& pc, const SealBlobs& seal, const SecureBytes& old_pin,
                     const SecureBytes& new_pin, bool last = true);

} // namespace ptool::token
