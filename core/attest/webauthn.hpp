// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string>

#include <openssl/evp.h>

#include "core/hex.hpp"

// The key attestation as a WebAuthn "tpm" attestation statement (WebAuthn §8.3): the CBOR
// map {ver: "2.0", alg: -7 (ES256), x5c: [AK certificate], sig, certInfo, pubArea}, keys in
// CTAP2 canonical order. `sig` is the DER ECDSA signature over certInfo. certInfo's
// extraData is our SHA-256(nonce || OpenSSH key blob), not WebAuthn's hash of
// authenticatorData || clientDataHash.
namespace ptool::attest {

Bytes webauthn_statement(std::span<const uint8_t> ak_cert_der, std::span<const uint8_t> sig_der,
                         std::span<const uint8_t> cert_info, std::span<const uint8_t> pub_area);

// Checks a statement against the checked certInfo and pubArea: same bytes, ver "2.0",
// alg -7, sig valid under x5c[0], whose key is the AK (`ak_key`) and which is the record's
// AK certificate (`ak_cert_b64`) when the record has one. Error(k_attest_failed) otherwise.
void check_webauthn_statement(std::span<const uint8_t> cbor, std::span<const uint8_t> cert_info,
                              std::span<const uint8_t> pub_area, EVP_PKEY* ak_key,
                              const std::optional<std::string>& ak_cert_b64);

} // namespace ptool::attest
