// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include <openssl/evp.h>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

// Software halves of the PKCS#11 mechanisms: hashing, RSA paddings for raw-RSA signing in the
// TPM, and verification against a public key. `md` names an OpenSSL digest ("SHA256").
namespace ptool::crypto {

Bytes digest(std::string_view md, std::span<const uint8_t> data);
size_t digest_size(std::string_view md);

// EMSA-PKCS1-v1_5 block type 1 (00 01 FF.. 00 || data) of `k` bytes. Throws Error(k_usage)
// when data is longer than k - 11.
Bytes pkcs1_type1_pad(std::span<const uint8_t> data, size_t k);

// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of the message hash `mhash`, MGF1 with the same digest,
// a random salt of `salt_len` bytes, for a modulus of `mod_bits` bits.
Bytes pss_encode(std::string_view md, std::span<const uint8_t> mhash, size_t salt_len,
                 size_t mod_bits);

// EME-OAEP decoding (RFC 8017 §7.1.2) of a raw RSA result `em` (modulus-sized), MGF1 with
// the same digest. nullopt when the block is not valid OAEP for `label`. For labels the TPM
// cannot take (TPM2_RSA_Decrypt wants them NUL-terminated).
std::optional<SecureBytes> oaep_decode(std::string_view md, std::span<const uint8_t> em,
                                       std::span<const uint8_t> label);

// How a signature is checked.
enum class SigKind { k_ecdsa_raw, k_rsa_pkcs1, k_rsa_pss };

// Verifies `sig` over the digest (or, for raw RSA PKCS#1 without `md`, the DigestInfo) `tbs`.
// ECDSA signatures are r || s. Returns false when it does not verify.
bool verify(EVP_PKEY* key, SigKind kind, std::string_view md, size_t salt_len,
            std::span<const uint8_t> tbs, std::span<const uint8_t> sig);

} // namespace ptool::crypto
