// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string_view>

#include <openssl/evp.h>

#include "core/model.hpp"
#include "pkcs11/module.hpp"

// What sign / verify / decrypt share: checking a key against a mechanism and the sizes of
// its results.
namespace ptool::p11 {

enum class KeyUse { k_sign, k_verify, k_decrypt, k_encrypt };

// The session `h` with an operation of `kind` in progress, else CKR_OPERATION_NOT_INITIALIZED.
Session& active(Module& m, CK_SESSION_HANDLE h, Operation::Kind kind);
// The caller's buffer (NULL with a non-zero length: CKR_ARGUMENTS_BAD).
std::span<const uint8_t> bytes(CK_BYTE_PTR p, CK_ULONG len);

// Validates `mech` for `obj` (mechanism known and usable for `use`, key type and class fit,
// usage attribute set, listed in CKA_ALLOWED_MECHANISMS) and starts `s.op`.
void start_operation(Module& m, Session& s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                     KeyUse use);

// What the private-key operations need to know about a key, taken from its TPM public area
// (CKA_TPM2_PUB_BLOB), never from the row's CKA_MODULUS / CKA_EC_PARAMS: the store is
// untrusted, and these sizes bound copies into the caller's buffers.
struct TpmKeyFacts
{
  bool ec = false;
  size_t modulus_bits = 0; // RSA
  size_t field_bytes = 0;  // EC
  size_t signature_size() const { return ec ? 2 * field_bytes : (modulus_bits + 7) / 8; }
};

// The facts of `obj`'s TPM key. A row without a readable public blob, or whose key type,
// modulus, curve or EC point disagree with that blob, is refused: one log line naming the
// object and CKR_FUNCTION_FAILED (CkError).
TpmKeyFacts tpm_key_facts(const Object& obj);

// Modulus bytes of an RSA key, 2 * field bytes of an EC key, from the row's attributes: the
// signature size of a public key (verification only; nothing is copied by that size).
size_t signature_size(const AttrMap& attrs);
// The hash of an HMAC key's TPM scheme (TPM2_ALG_SHA256, ...), or the AES key bits of a
// symmetric key, from its TPM public blob; a row whose blob is not such a key is refused
// (CKR_FUNCTION_FAILED, one log line).
TPM2_ALG_ID tpm_hmac_hash(const Object& obj);
size_t tpm_aes_bits(const Object& obj);
size_t modulus_bits(const AttrMap& attrs);
size_t ec_field_bytes(const AttrMap& attrs);

// RSA with the public key `key` (k modulus bytes): CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP (hash
// `oaep_md`, `label`) or raw CKM_RSA_X_509 (input left-padded with zeros to k bytes).
// CKR_DATA_LEN_RANGE when `in` does not fit (encrypt.cpp; C_Encrypt and raw C_Verify).
Bytes rsa_public(EVP_PKEY* key, const Mechanism& mech, std::string_view oaep_md,
                 std::span<const uint8_t> label, std::span<const uint8_t> in, size_t k);

// Single-part AES (C_Encrypt / C_Decrypt) in the TPM for the session's operation
// (encrypt.cpp).
CK_RV aes_single(Module& m, Session& s, bool decrypt, std::span<const uint8_t> in, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len);
// RSA decryption in the TPM of `in` (decrypt.cpp; C_Decrypt and C_DecryptFinal).
CK_RV rsa_decrypt_all(Module& m, Session& s, std::span<const uint8_t> in, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len);

// Runs `body` and ends the session's operation unless it answered CKR_BUFFER_TOO_SMALL or
// was a size query (PKCS#11: every other outcome terminates the operation).
template<typename F>
CK_RV
finishing(Session& s, F&& body)
{
  CK_RV rv = CKR_GENERAL_ERROR;
  bool keep = false;
  try {
    rv = body(keep);
  } catch (...) {
    s.op = Operation{};
    throw;
  }
  if (!keep && rv != CKR_BUFFER_TOO_SMALL) {
    s.op = Operation{};
  }
  return rv;
}

} // namespace ptool::p11
