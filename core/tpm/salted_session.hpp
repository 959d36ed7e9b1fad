// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <tss2/tss2_esys.h>

namespace ptool::tpm {

// Starts an HMAC session salted with `salt_key` (unbound, SHA-256, `symmetric` for parameter
// encryption) without ESAPI's crypto: the salt is computed here (attest::encrypt_secret,
// BIGNUM / EC_POINT arithmetic only), TPM2_StartAuthSession goes out through ESAPI's own
// SAPI context, and the session comes back to ESAPI as an ESYS_TR through
// Esys_TR_Deserialize, carrying the session key derived here (KDFa "ATH").
//
// For hosts where ESAPI cannot salt a session: tpm2-tss 3.2 builds the salt key's public key
// with EVP_PKEY_fromdata, which fails once OpenSSL's pkcs11 engine has made itself the
// process's default RSA and EC implementation (`openssl ... -engine pkcs11`, libp11's
// private-key loading). The session key never leaves this process's memory in the clear
// except in the ESYS_TR ESAPI holds, as with Esys_StartAuthSession.
//
// Every salted session tpm2-ptool starts goes this way, so the whole test suite runs it.
// Throws Error when the TPM refuses; returns ESYS_TR_NONE (the TPM's session flushed) when
// this tpm2-tss serializes sessions in a layout other than the one written here, which
// serializing the result back detects: the caller then uses Esys_StartAuthSession.
ESYS_TR start_salted_session(ESYS_CONTEXT* ctx, ESYS_TR salt_key, const TPMT_SYM_DEF& symmetric);

} // namespace ptool::tpm
