// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string_view>

#include <tss2/tss2_tpm2_types.h>

#include "pkcs11/p11.hpp"

namespace ptool::p11 {

// What the module does for one mechanism.
struct Mechanism
{
  enum class Family {
    k_ecdsa,
    k_rsa_pkcs,
    k_rsa_pss,
    k_rsa_oaep,
    k_rsa_x509, // raw RSA
    k_aes,      // TPM2_EncryptDecrypt(2) in mode `aes_mode`
    k_hmac,     // TPM2_HMAC with hash `md`
    k_digest,   // OpenSSL digest `md`
    k_keygen,   // C_GenerateKey(Pair) (keygen.cpp)
  };
  CK_MECHANISM_TYPE type;
  Family family;
  std::string_view md; // hash applied by the module to the data; empty for raw mechanisms
  CK_FLAGS flags;      // CKF_SIGN, CKF_VERIFY, CKF_DECRYPT (+ CKF_HW, EC flags)
  // C_GetMechanismInfo key sizes (bits for RSA/EC, bytes for AES/HMAC, as upstream).
  CK_ULONG min_key = 0;
  CK_ULONG max_key = 0;
  TPM2_ALG_ID aes_mode = TPM2_ALG_NULL;
  bool pad = false; // CKM_AES_CBC_PAD: PKCS#7 padding
};

std::span<const Mechanism> mechanisms();
const Mechanism* find_mechanism(CK_MECHANISM_TYPE type);

// Hash mechanisms (CKM_SHA256) and MGFs (CKG_MGF1_SHA256) of PSS/OAEP parameters -> OpenSSL
// digest name; empty when unknown.
std::string_view md_of_hash_mechanism(CK_MECHANISM_TYPE hash);
std::string_view md_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf);
// OpenSSL digest name -> TPM hash algorithm.
TPM2_ALG_ID tpm_hash(std::string_view md);
std::string_view md_of_tpm_hash(TPM2_ALG_ID alg);

} // namespace ptool::p11
