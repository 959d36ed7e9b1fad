// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <tss2/tss2_esys.h>

namespace ptool::tpm {

// Starts an auth session of `type` (unbound, `auth_hash`, `symmetric` for parameter
// encryption), salted with `salt_key` unless it is ESYS_TR_NONE; throws Error naming `what`
// when the TPM refuses. Every session tpm2-ptool starts comes from here.
//
// A salted session is built without ESAPI's crypto: the salt is computed here
// (attest::encrypt_secret, BIGNUM / EC_POINT arithmetic only), TPM2_StartAuthSession goes out
// through ESAPI's own SAPI context, and the session comes back to ESAPI as an ESYS_TR through
// Esys_TR_Deserialize, carrying the session key derived here (KDFa "ATH"). That is for hosts
// where ESAPI cannot salt a session: tpm2-tss 3.2 builds the salt key's public key with
// EVP_PKEY_fromdata, which fails once OpenSSL's pkcs11 engine has made itself the process's
// default RSA and EC implementation (`openssl ... -engine pkcs11`, libp11's private-key
// loading). The session key is held only in wiped buffers here and in the ESYS_TR ESAPI
// holds, as with Esys_StartAuthSession.
//
// When this tpm2-tss serializes sessions in a layout other than the one written here (found
// by serializing the result back), that session is flushed and Esys_StartAuthSession is used.
ESYS_TR start_auth_session(ESYS_CONTEXT* ctx, ESYS_TR salt_key, TPM2_SE type,
                           const TPMT_SYM_DEF& symmetric, TPMI_ALG_HASH auth_hash,
                           const char* what);

} // namespace ptool::tpm
