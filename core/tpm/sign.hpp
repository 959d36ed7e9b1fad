// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/esys.hpp"

// Private-key operations with a loaded TPM key whose auth is already set (set_auth). Each is
// exactly one TPM command, authorized through `session` (the token's salted HMAC session).
namespace ptool::tpm {

// The hash algorithm whose digest has `size` bytes (SHA-1/256/384/512), TPM2_ALG_NULL if none.
TPM2_ALG_ID hash_by_digest_size(size_t size);

// TPM2_Sign with scheme ECDSA: the signature as r || s, each left-padded to `field_bytes`.
// `digest` must be exactly as long as `hash`'s output (the TPM checks this).
Bytes sign_ecdsa(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID hash,
                 std::span<const uint8_t> digest, size_t field_bytes);

// TPM2_Sign with scheme RSASSA (PKCS#1 v1.5; the TPM adds the DigestInfo) or RSAPSS.
Bytes sign_rsa(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID scheme,
               TPM2_ALG_ID hash, std::span<const uint8_t> digest);

// TPM2_RSA_Decrypt. scheme TPM2_ALG_NULL is raw RSA (used to sign an already padded block),
// TPM2_ALG_RSAES is PKCS#1 v1.5, TPM2_ALG_OAEP uses `hash` and `label`. The response is
// encrypted on the bus because it may be a secret.
SecureBytes rsa_decrypt(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID scheme,
                        TPM2_ALG_ID hash, std::span<const uint8_t> in,
                        std::span<const uint8_t> label = {});

// `n` bytes from TPM2_GetRandom (several commands when the TPM returns less per call).
Bytes get_random(ESYS_CONTEXT* ctx, size_t n);

} // namespace ptool::tpm
