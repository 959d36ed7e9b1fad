// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string>

#include <tss2/tss2_esys.h>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/esys.hpp"

// The device side of attestation (docs/attestation.md): the EK certificate and EK, the
// attestation key (AK), TPM2_ActivateCredential and TPM2_Certify. Everything here runs on the
// TPM; nothing is stored.
namespace ptool::attest {

// An EK certificate read from the TPM's NV at a TCG EK Credential Profile index.
struct EkCertificate
{
  uint32_t nv_index = 0;
  std::string template_name; // "L-1" (RSA 2048) or "L-2" (ECC P-256)
  Bytes der;
};

// The first EK certificate found, trying the low range RSA 2048 (0x01c00002, template L-1)
// then ECC P-256 (0x01c0000a, L-2). Error(k_not_found) when there is none;
// Error(k_unsupported) when only high-range certificates (0x01c00012…) exist.
EkCertificate read_ek_certificate(ESYS_CONTEXT* ctx);

// The TCG EK Credential Profile default template `name` (L-1 or L-2): restricted decrypt,
// adminWithPolicy with PolicySecret(TPM_RH_ENDORSEMENT), AES-128-CFB, SHA-256.
TPMT_PUBLIC ek_template(const std::string& name);

// The attestation key template: ECC P-256 restricted signing key, ECDSA with SHA-256,
// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign, empty
// auth and unique, nameAlg SHA-256. As a primary in the endorsement hierarchy it is the same
// key on every run until the endorsement seed changes (TPM2_Clear does not change it).
TPMT_PUBLIC ak_template();

// A primary in the endorsement hierarchy (empty endorsement auth), flushed on destruction.
struct HierarchyKey
{
  tpm::TpmObject obj;
  TPMT_PUBLIC pub{};
};
HierarchyKey create_ek(ESYS_CONTEXT* ctx, const std::string& template_name);
HierarchyKey create_ak(ESYS_CONTEXT* ctx);

// TPM2_ActivateCredential of (id_object, encrypted_secret) — marshalled TPM2B_ID_OBJECT and
// TPM2B_ENCRYPTED_SECRET — for `ak` under `ek`, with the EK's PolicySecret(endorsement)
// session (salted with the EK, response encrypted). Error(k_auth) with a clear message when
// the TPM refuses the credential: it was not made for this TPM's EK and AK.
SecureBytes activate_credential(ESYS_CONTEXT* ctx, const HierarchyKey& ek, const HierarchyKey& ak,
                                std::span<const uint8_t> id_object,
                                std::span<const uint8_t> encrypted_secret);

// TPM2_Certify of the loaded `key` (its auth set, authorized through `key_session`) by `ak`
// with ECDSA-SHA256: the marshalled TPMS_ATTEST and TPMT_SIGNATURE.
struct Certification
{
  Bytes cert_info;
  Bytes signature;
};
Certification certify(ESYS_CONTEXT* ctx, ESYS_TR key, tpm::Session& key_session,
                      const HierarchyKey& ak, std::span<const uint8_t> qualifying_data);

} // namespace ptool::attest
