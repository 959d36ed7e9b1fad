// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "core/hex.hpp"

namespace ptool::attest {

// An X.509 certificate for the AK, signed by the verifier's CA (`ca_key_pem`, `ca_cert_pem`),
// made to the WebAuthn TPM attestation AK-certificate profile (WebAuthn §8.3.1): version 3,
// empty subject, the EK certificate's TCG subjectAltName (TPM manufacturer, model, version;
// critical), extendedKeyUsage tcg-kp-AIKCertificate (2.23.133.8.3), basicConstraints CA=false,
// valid 10 years. Returns DER. Error(k_usage) on unreadable CA files.
Bytes issue_ak_certificate(const TPMT_PUBLIC& ak, X509* ek_cert,
                           std::span<const uint8_t> ca_key_pem,
                           std::span<const uint8_t> ca_cert_pem);

// DER ECDSA-Sig-Value of a TPM ECDSA signature (r, s).
Bytes ecdsa_der(const TPMS_SIGNATURE_ECDSA& sig);

// True when `der_sig` is a valid ECDSA-SHA256 signature by `key` over `data`.
bool verify_es256(EVP_PKEY* key, std::span<const uint8_t> data, std::span<const uint8_t> der_sig);

} // namespace ptool::attest
