// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/attest/doc.hpp"
#include "core/secure_bytes.hpp"

// The verifier side of attestation (docs/attestation.md). Needs no TPM. Every check that
// fails throws Error(k_attest_failed) naming the one check, except the key-property checks
// of verify_key, which throw Error(k_attest_policy).
namespace ptool::attest {

// Document types (the "type" field of each JSON document).
inline constexpr const char* k_type_enroll = "tpm2-ptool-attest-enroll";
inline constexpr const char* k_type_challenge = "tpm2-ptool-attest-challenge";
inline constexpr const char* k_type_state = "tpm2-ptool-attest-state";
inline constexpr const char* k_type_response = "tpm2-ptool-attest-response";
inline constexpr const char* k_type_device = "tpm2-ptool-attest-device";
inline constexpr const char* k_type_key = "tpm2-ptool-attest-key";

// The activation proof the device returns instead of the credential itself:
// HMAC-SHA256(credential, "tpm2-ptool attest activate" || AK name).
Bytes activation_proof(std::span<const uint8_t> credential, std::span<const uint8_t> ak_name);

// attest challenge: checks the enrollment (EK certificate chains to a certificate in
// `roots_pem`, its key is the EK public area's, the EK and AK public areas are the documented
// templates) and makes a credential for the AK under the EK.
struct Challenge
{
  Doc challenge{k_type_challenge};
  Doc state{k_type_state}; // holds the secret credential: written 0600 by the caller
};
Challenge make_challenge(const Doc& enroll, std::span<const uint8_t> roots_pem);

// attest accept: checks the response against the state and returns the device record.
// With `ca_key_pem` and `ca_cert_pem`, also issues an AK certificate (WebAuthn TPM AK
// certificate profile) into the record's "ak_certificate".
Doc accept_response(const Doc& state, const Doc& response,
                    std::optional<std::span<const uint8_t>> ca_key_pem,
                    std::optional<std::span<const uint8_t>> ca_cert_pem,
                    const std::optional<SecureBytes>& ca_key_pass = std::nullopt);

// attest verify: all checks of a key attestation against a device record and the nonce the
// verifier handed out. Returns the key's OpenSSH public key ("type base64").
std::string verify_key(const Doc& device, std::span<const uint8_t> nonce, const Doc& key);

// qualifyingData of the key's TPM2_Certify: SHA-256(nonce || OpenSSH public-key blob).
Bytes key_qualifying_data(std::span<const uint8_t> nonce, std::span<const uint8_t> ssh_blob);

} // namespace ptool::attest
