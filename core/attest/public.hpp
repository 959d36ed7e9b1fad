// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string>

#include <tss2/tss2_tpm2_types.h>

#include "core/c_handles.hpp"
#include "core/hex.hpp"

// TPM public areas as the attestation documents carry them: marshalled TPMT_PUBLIC (no size
// prefix, as WebAuthn's pubArea), their TPM names, and their keys as OpenSSL / OpenSSH keys.
namespace ptool::attest {

// The NIST curves a TPM public area may name: OpenSSL's name, OpenSSH's, the field size.
struct CurveInfo
{
  const char* openssl;
  const char* ssh;
  size_t bytes;
};
// Error(k_unsupported) for curves other than P-256/384/521.
CurveInfo curve_info(TPM2_ECC_CURVE curve);
// `pub`'s ECC point, uncompressed (0x04 || x || y, each `bytes` long); Error(k_usage) when a
// coordinate is longer.
Bytes ec_point(const TPMT_PUBLIC& pub, size_t bytes);
// `pub`'s RSA public exponent, big-endian (0 in the public area means 65537).
Bytes rsa_exponent(const TPMT_PUBLIC& pub);

Bytes marshal_tpmt_public(const TPMT_PUBLIC& pub);
// Throws Error(k_usage) naming `what` when `data` is not exactly one TPMT_PUBLIC.
TPMT_PUBLIC unmarshal_tpmt_public(std::span<const uint8_t> data, const std::string& what);

// nameAlg || H_nameAlg(marshalled TPMT_PUBLIC), for SHA-1/256/384/512 name algorithms.
Bytes tpm_name(const TPMT_PUBLIC& pub);

// The digest of `data` with TPM hash algorithm `alg`; Error(k_unsupported) for others.
Bytes tpm_hash(TPM2_ALG_ID alg, std::span<const uint8_t> data);
const EVP_MD* tpm_md(TPM2_ALG_ID alg);

// The RSA or ECC (P-256/384/521) public key of `pub`; Error(k_unsupported) otherwise.
EvpPkey public_key(const TPMT_PUBLIC& pub);

// The OpenSSH public-key blob (RFC 4253 / RFC 5656 wire format) of `pub`'s key: what the
// second field of an authorized_keys line decodes to.
Bytes openssh_blob(const TPMT_PUBLIC& pub);

} // namespace ptool::attest
