// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string>

#include <tss2/tss2_esys.h>

#include "core/attest/doc.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/token_ops.hpp"

// The device's three steps (docs/attestation.md): each returns the document it prints.
namespace ptool::attest {

// `endorsement_auth` is the endorsement hierarchy's auth (empty by default): the AK and EK
// are primaries there, and the EK's policy needs PolicySecret(endorsement).

// attest enroll: the EK certificate, the EK public area (re-created from the certificate's
// template and checked against the certificate's key) and the AK public area. `ek_index`
// picks one EK certificate index; without it, the first that matches (find_ek).
Doc enroll(ESYS_CONTEXT* ctx, std::span<const uint8_t> endorsement_auth,
           std::optional<uint32_t> ek_index);

// attest activate: TPM2_ActivateCredential of the challenge; the response carries only a
// proof (HMAC keyed with the recovered credential), never the credential itself.
Doc activate(ESYS_CONTEXT* ctx, const Doc& challenge, std::span<const uint8_t> endorsement_auth);

// attest key: TPM2_Certify of a token's key by the AK with qualifyingData =
// SHA-256(nonce || OpenSSH blob of the key). `ssh_public_key` is the key as ssh-pubkey prints
// it ("TYPE BASE64 [comment]"); it must be the key of `pub`. With `ak_cert_der`, the
// document also carries the WebAuthn "tpm" attestation statement.
Doc attest_key(tpm::PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
               std::span<const uint8_t> objauth, const std::string& ssh_public_key,
               std::span<const uint8_t> nonce, std::optional<std::span<const uint8_t>> ak_cert_der,
               std::span<const uint8_t> endorsement_auth);

} // namespace ptool::attest
