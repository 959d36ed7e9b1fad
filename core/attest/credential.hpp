// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string_view>

#include <tss2/tss2_tpm2_types.h>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

// TPM2_MakeCredential in software (TPM 2.0 Part 1 §24, Part 3 §12.6), so the verifier needs
// no TPM: only the EK's public area, the AK's name and OpenSSL 3.
namespace ptool::attest {

// KDFa (Part 1 §11.4.10.2): counter-mode HMAC KDF; `label` without its terminating zero.
SecureBytes kdfa(TPM2_ALG_ID hash, std::span<const uint8_t> key, std::string_view label,
                 std::span<const uint8_t> context_u, std::span<const uint8_t> context_v,
                 size_t bits);

// KDFe (Part 1 §11.4.10.3): the ECDH one-step KDF (SP 800-56A) with the TPM's argument order.
SecureBytes kdfe(TPM2_ALG_ID hash, std::span<const uint8_t> z, std::string_view label,
                 std::span<const uint8_t> party_u, std::span<const uint8_t> party_v, size_t bits);

// A random secret of the key's name-algorithm digest size that only the TPM holding `key`'s
// private part recovers, and in `out` what the TPM takes (Part 1 §11.4.10, Annex B.10.3
// and C.6.1): RSA-OAEP with `label` (its terminating zero included), or ECDH with a one-time
// key and KDFe(`label`). Only digests and BIGNUM / EC_POINT arithmetic: never an EVP_PKEY,
// RSA or EC_KEY, whose implementation a host process may have replaced (OpenSSL's pkcs11
// engine makes itself the default RSA and EC implementation; docs/reliability.md).
SecureBytes encrypt_secret(const TPMT_PUBLIC& key, std::string_view label,
                           TPM2B_ENCRYPTED_SECRET& out);

struct MadeCredential
{
  Bytes id_object;        // marshalled TPM2B_ID_OBJECT (integrityHMAC || encIdentity)
  Bytes encrypted_secret; // marshalled TPM2B_ENCRYPTED_SECRET (the seed for the EK)
};

// Protects `credential` (at most the EK name algorithm's digest size) for the object named
// `object_name`, so that only the TPM holding `ek` (an RSA or ECC restricted decryption key
// with an AES-CFB symmetric) can recover it with TPM2_ActivateCredential. The seed is
// OAEP-encrypted with label "IDENTITY" (RSA) or derived by ECDH with a one-time key (ECC).
MadeCredential make_credential(const TPMT_PUBLIC& ek, std::span<const uint8_t> object_name,
                               std::span<const uint8_t> credential);

} // namespace ptool::attest
