// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
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

// The endorsement hierarchy's auth for the EK and AK primaries and the EK's PolicySecret.
// Empty (the default): password sessions. Otherwise the auth only ever travels as the HMAC
// of a session salted with a NULL-hierarchy key. A wrong auth is Error(k_auth).
class EndorsementAuth
{
public:
  EndorsementAuth(ESYS_CONTEXT* ctx, std::span<const uint8_t> auth);
  ESYS_TR session();

private:
  ESYS_CONTEXT* m_ctx;
  std::optional<tpm::Session> m_session;
};

// True when the TPM reports an endorsement hierarchy auth (TPMA_PERMANENT endorsementAuthSet).
bool endorsement_auth_set(ESYS_CONTEXT* ctx);

// An EK certificate read from the TPM's NV at a TCG EK Credential Profile index.
struct EkCertificate
{
  uint32_t nv_index = 0;
  std::string template_name; // "L-1", "L-2", "H-1".."H-7"
  Bytes der;
};

// The TCG EK Credential Profile default template `name`: L-1 (RSA 2048) and L-2 (ECC P-256)
// with PolicyA = PolicySecret(TPM_RH_ENDORSEMENT); H-1 (RSA 2048), H-2 (P-256), H-3 (P-384),
// H-4 (P-521), H-6 (RSA 3072), H-7 (RSA 4096) with userWithAuth, empty unique and PolicyB =
// PolicyOR(PolicyA, PolicyC) in the template's name algorithm. Error(k_unsupported) for H-5
// (SM2) and unknown names.
TPMT_PUBLIC ek_template(const std::string& name);
// The template name for an EK certificate NV index (0x01c00002 -> "L-1"), or empty.
std::string ek_template_for_index(uint32_t nv_index);

// The attestation key template: ECC P-256 restricted signing key, ECDSA with SHA-256,
// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign, empty
// auth and unique, nameAlg SHA-256. As a primary in the endorsement hierarchy it is the same
// key on every run until the endorsement seed changes (TPM2_Clear does not change it).
TPMT_PUBLIC ak_template();

// A primary in the endorsement hierarchy, flushed on destruction.
struct HierarchyKey
{
  tpm::TpmObject obj;
  TPMT_PUBLIC pub{};
};
HierarchyKey create_ek(ESYS_CONTEXT* ctx, EndorsementAuth& auth, const std::string& template_name);
HierarchyKey create_ak(ESYS_CONTEXT* ctx, EndorsementAuth& auth);

// The EK certificate enrollment uses and the EK it certifies: the first profile index (in
// the order L-1, L-2, H-1..H-7; only `only_index` when given) that holds a certificate whose
// key is the key of the EK re-created from that index's default template. Error(k_not_found)
// when there is no certificate; Error(k_unsupported) naming the index and template when the
// only certificates are for templates this cannot re-create (H-5, or a non-default template
// the TPM keeps in NV); Error(k_general) when no certificate is for its template's EK.
struct EnrolledEk
{
  EkCertificate cert;
  HierarchyKey ek;
};
EnrolledEk find_ek(ESYS_CONTEXT* ctx, EndorsementAuth& auth, std::optional<uint32_t> only_index);

// TPM2_ActivateCredential of (id_object, encrypted_secret) — marshalled TPM2B_ID_OBJECT and
// TPM2B_ENCRYPTED_SECRET — for `ak` under `ek`, with the EK's policy session in the
// template's name algorithm (salted with the EK, response encrypted): PolicySecret(endorsement)
// for the low-range templates, then PolicyOR(PolicyA, PolicyC) for the high-range ones.
// Error(k_auth) with a clear message when the TPM refuses the credential: it was not made for this
// TPM's EK and AK.
SecureBytes activate_credential(ESYS_CONTEXT* ctx, EndorsementAuth& auth, const HierarchyKey& ek,
                                const std::string& ek_template_name, const HierarchyKey& ak,
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
