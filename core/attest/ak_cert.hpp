// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>

#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

namespace ptool::attest {

// An X.509 certificate for the AK, signed by the verifier's CA (`ca_key_pem`, `ca_cert_pem`),
// made to the WebAuthn TPM attestation AK-certificate profile (WebAuthn §8.3.1): version 3,
// empty subject, the EK certificate's TCG subjectAltName (TPM manufacturer, model, version;
// critical), extendedKeyUsage tcg-kp-AIKCertificate (2.23.133.8.3), basicConstraints CA=false,
// valid 10 years. Returns DER. Error(k_usage) on unreadable CA files. An encrypted CA key
// (PKCS#8 or traditional PEM) needs `ca_key_pass`; a missing or wrong one is Error(k_auth).
Bytes issue_ak_certificate(const TPMT_PUBLIC& ak, X509* ek_cert,
                           std::span<const uint8_t> ca_key_pem,
                           std::span<const uint8_t> ca_cert_pem,
                           const std::optional<SecureBytes>& ca_key_pass);

// True when the PEM text is an encrypted private key ("ENCRYPTED PRIVATE KEY" or a
// "Proc-Type: 4,ENCRYPTED" header).
bool pem_key_is_encrypted(std::span<const uint8_t> pem);

// DER ECDSA-Sig-Value of a TPM ECDSA signature (r, s).
Bytes ecdsa_der(const TPMS_SIGNATURE_ECDSA& sig);

// True when `der_sig` is a valid ECDSA-SHA256 signature by `key` over `data`.
bool verify_es256(EVP_PKEY* key, std::span<const uint8_t> data, std::span<const uint8_t> der_sig);

} // namespace ptool::attest
