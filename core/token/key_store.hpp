// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <vector>

#include "core/model.hpp"
#include "core/tpm/esys.hpp"
#include "store/store.hpp"

// Writing a new TPM key's objects into a token, shared by the CLI (addkey, import, link) and
// the PKCS#11 module (C_GenerateKeyPair, C_GenerateKey), so both store keys the same way.
namespace ptool::token {

// Inside the write transaction: reads the token's seal row again and throws (nothing
// written) unless it is still the one the caller used before the transaction began, so a
// concurrent changepin / initpin / rmtoken+addtoken is never overwritten or mixed with ours.
// `whole`: every blob and salt must match (changepin, initpin); otherwise only the sealed
// objects' public areas, i.e. the same wrapping key (addkey, import, link, the module).
void recheck_seal(const store::Store& st, const Token& token, const SealObject& used, bool whole);

// One transaction: recheck_seal (same wrapping key), then each of `objects` (a key's private
// or secret object first, then its public one) inserted into the token. Returns the new row
// ids in the order of `objects`.
std::vector<int64_t> insert_key_objects(store::Store& st, const Token& token,
                                        const SealObject& seal,
                                        const std::vector<AttrMap>& objects);

// The TPM algorithms a new key's CKA_ALLOWED_MECHANISMS depend on (RSA: RSA-PSS, SHA-384,
// SHA-512; EC: SHA-384, SHA-512; AES: the modes; HMAC: none), for a key of TPM type
// `type` under primary `pid`. Read from the mechanism lists of the keys the store already
// holds under that primary (the same TPM: the caller just used the primary), of any key
// type: an EC key's list tells SHA-384/512, an RSA key's RSA-PSS (and with it SHA-384/512),
// an AES key's the modes. Only when the store does not tell every fact the key needs (or
// two keys disagree) is the TPM asked (TPM2_GetCapability, one command).
tpm::AlgorithmSet algorithms_for_key(const store::Store& st, int64_t pid, TPM2_ALG_ID type,
                                     ESYS_CONTEXT* ctx);
// The same without the TPM: nullopt when the store does not tell.
std::optional<tpm::AlgorithmSet> known_algorithms(const store::Store& st, int64_t pid,
                                                  TPM2_ALG_ID type);

} // namespace ptool::token
