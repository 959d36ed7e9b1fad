// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/device.hpp"

#include <algorithm>
#include <cstring>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::attest {

namespace {

constexpr uint32_t k_nv_rsa2048_low = 0x01c00002;
constexpr uint32_t k_nv_ecc256_low = 0x01c0000a;
constexpr uint32_t k_nv_high_first = 0x01c00012;
constexpr uint32_t k_nv_high_last = 0x01c0001f;

// PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the EK templates' authPolicy (TCG EK
// Credential Profile, "PolicyA" of the default templates).
constexpr uint8_t k_ek_policy_sha256[32] = {
  0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
  0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

std::vector<uint32_t>
nv_indices(ESYS_CONTEXT* ctx)
{
  TPMS_CAPABILITY_DATA* data = nullptr;
  TPMI_YES_NO more = TPM2_NO;
  tpm::check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                   0x01c00000, 0x100, &more, &data),
                "TPM2_GetCapability(NV indices)");
  EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
  std::vector<uint32_t> out;
  for (UINT32 i = 0; i < data->data.handles.count; ++i) {
    out.push_back(data->data.handles.handle[i]);
  }
  return out;
}

Bytes
nv_read_all(ESYS_CONTEXT* ctx, uint32_t index)
{
  ESYS_TR nv = ESYS_TR_NONE;
  tpm::check_rc(Esys_TR_FromTPMPublic(ctx, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv),
                "Esys_TR_FromTPMPublic(EK certificate index)");
  tpm::TpmObject owned(ctx, nv, tpm::TpmObject::Drop::k_close);
  TPM2B_NV_PUBLIC* pub = nullptr;
  tpm::check_rc(
    Esys_NV_ReadPublic(ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr),
    "TPM2_NV_ReadPublic");
  EsysPtr<TPM2B_NV_PUBLIC> pub_owned(pub);
  const uint16_t size = pub->nvPublic.dataSize;
  Bytes out;
  // The profile's indices allow reads with the index's own (empty) auth; the TPM limits
  // each read to its NV buffer size, 1024 bytes on the TPMs we know, so read in chunks.
  constexpr uint16_t k_chunk = 768;
  while (out.size() < size) {
    uint16_t n = static_cast<uint16_t>(std::min<size_t>(k_chunk, size - out.size()));
    TPM2B_MAX_NV_BUFFER* data = nullptr;
    tpm::check_rc(Esys_NV_Read(ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                               static_cast<uint16_t>(out.size()), &data),
                  "TPM2_NV_Read(EK certificate)");
    EsysPtr<TPM2B_MAX_NV_BUFFER> d(data);
    out.insert(out.end(), data->buffer, data->buffer + data->size);
  }
  return out;
}

HierarchyKey
create_in_endorsement(ESYS_CONTEXT* ctx, const TPMT_PUBLIC& tmpl, const char* what)
{
  TPM2B_PUBLIC in{};
  in.publicArea = tmpl;
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out = nullptr;
  TSS2_RC rc =
    Esys_CreatePrimary(ctx, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                       &sensitive, &in, &outside, &pcrs, &handle, &out, nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> owned(out);
  tpm::check_rc(rc, what, tpm::AuthKind::k_hierarchy);
  HierarchyKey key;
  key.obj = tpm::TpmObject(ctx, handle, tpm::TpmObject::Drop::k_flush);
  key.pub = out->publicArea;
  return key;
}

} // namespace

EkCertificate
read_ek_certificate(ESYS_CONTEXT* ctx)
{
  std::vector<uint32_t> present = nv_indices(ctx);
  auto has = [&](uint32_t i) {
    return std::find(present.begin(), present.end(), i) != present.end();
  };
  for (auto [index, name] :
       {std::pair{k_nv_rsa2048_low, "L-1"}, std::pair{k_nv_ecc256_low, "L-2"}}) {
    if (has(index)) {
      EkCertificate cert;
      cert.nv_index = index;
      cert.template_name = name;
      cert.der = nv_read_all(ctx, index);
      // Some TPMs pad the index with 0xff or zeros: keep the DER SEQUENCE only.
      if (cert.der.size() >= 4 && cert.der[0] == 0x30 && cert.der[1] == 0x82) {
        size_t len = 4 + (static_cast<size_t>(cert.der[2]) << 8 | cert.der[3]);
        if (len <= cert.der.size()) {
          cert.der.resize(len);
        }
      }
      return cert;
    }
  }
  for (uint32_t i : present) {
    if (i >= k_nv_high_first && i <= k_nv_high_last) {
      throw Error(ExitCode::k_unsupported,
                  "this TPM has only high-range EK certificates (TCG EK Credential Profile "
                  "templates H-1..H-7), which tpm2-ptool does not read yet",
                  "use a TPM with an RSA 2048 (0x01c00002) or ECC P-256 (0x01c0000a) EK "
                  "certificate");
    }
  }
  throw_not_found("the TPM has no EK certificate at 0x01c00002 (RSA 2048) or 0x01c0000a "
                  "(ECC P-256)",
                  "provision one (the TPM vendor does; swtpm_setup --create-ek-cert for swtpm)");
}

TPMT_PUBLIC
ek_template(const std::string& name)
{
  TPMT_PUBLIC t{};
  t.nameAlg = TPM2_ALG_SHA256;
  t.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                       | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY
                       | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  t.authPolicy.size = sizeof(k_ek_policy_sha256);
  std::memcpy(t.authPolicy.buffer, k_ek_policy_sha256, sizeof(k_ek_policy_sha256));
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = 128;
  sym.mode.aes = TPM2_ALG_CFB;
  if (name == "L-1") {
    t.type = TPM2_ALG_RSA;
    t.parameters.rsaDetail.symmetric = sym;
    t.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.rsaDetail.keyBits = 2048;
    t.parameters.rsaDetail.exponent = 0;
    t.unique.rsa.size = 256; // zeros
  } else if (name == "L-2") {
    t.type = TPM2_ALG_ECC;
    t.parameters.eccDetail.symmetric = sym;
    t.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    t.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    t.unique.ecc.x.size = 32;
    t.unique.ecc.y.size = 32;
  } else {
    throw Error(ExitCode::k_unsupported, "unknown EK template \"" + name + "\"");
  }
  return t;
}

TPMT_PUBLIC
ak_template()
{
  TPMT_PUBLIC t{};
  t.type = TPM2_ALG_ECC;
  t.nameAlg = TPM2_ALG_SHA256;
  t.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                       | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                       | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  t.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  t.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  t.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  t.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  t.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

HierarchyKey
create_ek(ESYS_CONTEXT* ctx, const std::string& template_name)
{
  return create_in_endorsement(ctx, ek_template(template_name), "TPM2_CreatePrimary(EK)");
}

HierarchyKey
create_ak(ESYS_CONTEXT* ctx)
{
  return create_in_endorsement(ctx, ak_template(), "TPM2_CreatePrimary(AK)");
}

SecureBytes
activate_credential(ESYS_CONTEXT* ctx, const HierarchyKey& ek, const HierarchyKey& ak,
                    std::span<const uint8_t> id_object, std::span<const uint8_t> encrypted_secret)
{
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  size_t off1 = 0;
  size_t off2 = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object.data(), id_object.size(), &off1, &blob)
        != TSS2_RC_SUCCESS
      || off1 != id_object.size()
      || Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(),
                                                  &off2, &secret)
           != TSS2_RC_SUCCESS
      || off2 != encrypted_secret.size()) {
    throw Error(ExitCode::k_usage, "the challenge's credential blob or secret is malformed");
  }
  // The EK's policy session, salted with the EK itself so the recovered credential comes
  // back encrypted on the bus.
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ESYS_TR session = ESYS_TR_NONE;
  tpm::check_rc(Esys_StartAuthSession(ctx, ek.obj.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &symmetric,
                                      TPM2_ALG_SHA256, &session),
                "TPM2_StartAuthSession(EK policy)");
  tpm::TpmObject owned(ctx, session, tpm::TpmObject::Drop::k_flush);
  tpm::check_rc(Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD,
                                  ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, nullptr,
                                  nullptr),
                "TPM2_PolicySecret(endorsement)", tpm::AuthKind::k_hierarchy);
  tpm::check_rc(Esys_TRSess_SetAttributes(
                  ctx, session, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_ENCRYPT, 0xff),
                "Esys_TRSess_SetAttributes");
  TPM2B_DIGEST* cert = nullptr;
  TSS2_RC rc = Esys_ActivateCredential(ctx, ak.obj.get(), ek.obj.get(), ESYS_TR_PASSWORD, session,
                                       ESYS_TR_NONE, &blob, &secret, &cert);
  EsysPtr<TPM2B_DIGEST> cert_owned(cert);
  if (rc != TSS2_RC_SUCCESS) {
    const TSS2_RC base = rc & 0xfff;
    // Integrity (HMAC), value (seed decryption) or size errors: the blob was not made for
    // this TPM's EK and this AK. libtpms (swtpm) answers a seed it cannot decrypt with
    // TPM_RC_FAILURE and keeps working.
    const bool fmt1 = (base & TPM2_RC_FMT1) != 0;
    const TSS2_RC err = base & 0xbf;
    if ((fmt1
         && (err == TPM2_RC_INTEGRITY || err == TPM2_RC_VALUE || err == TPM2_RC_SIZE
             || err == TPM2_RC_ECC_POINT || err == TPM2_RC_NO_RESULT))
        || base == TPM2_RC_FAILURE) {
      const char* decoded = Tss2_RC_Decode(rc);
      throw Error(ExitCode::k_auth,
                  std::string("the TPM cannot activate this credential: it was made for another "
                              "TPM's EK or another AK (")
                    + decoded + ")",
                  "run 'tpm2-ptool attest activate' on the device that ran 'attest enroll'");
    }
    tpm::check_rc(rc, "TPM2_ActivateCredential");
  }
  SecureBytes out(cert->buffer, cert->buffer + cert->size);
  OPENSSL_cleanse(cert, sizeof(*cert));
  return out;
}

Certification
certify(ESYS_CONTEXT* ctx, ESYS_TR key, tpm::Session& key_session, const HierarchyKey& ak,
        std::span<const uint8_t> qualifying_data)
{
  TPM2B_DATA qualifying{};
  if (qualifying_data.size() > sizeof(qualifying.buffer)) {
    throw Error(ExitCode::k_usage, "qualifying data too long");
  }
  qualifying.size = static_cast<UINT16>(qualifying_data.size());
  std::memcpy(qualifying.buffer, qualifying_data.data(), qualifying_data.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  key_session.use_for(false, false);
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  TSS2_RC rc = Esys_Certify(ctx, key, ak.obj.get(), key_session.get(), ESYS_TR_PASSWORD,
                            ESYS_TR_NONE, &qualifying, &scheme, &attest, &sig);
  EsysPtr<TPM2B_ATTEST> a(attest);
  EsysPtr<TPMT_SIGNATURE> s(sig);
  // The key auth was unwrapped with the PIN, so a refusal means the stored auth is not the
  // key's (a linked key whose auth changed), not a wrong PIN.
  try {
    tpm::check_rc(rc, "TPM2_Certify of the key (its stored auth)", tpm::AuthKind::k_none);
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_auth || tpm::is_lockout(e)) {
      throw;
    }
    throw Error(ExitCode::k_auth, e.what(),
                "the key's auth in the store is not its current auth (changed after export?): "
                "link the key again with 'tpm2-ptool link --auth-file'");
  }
  Certification out;
  out.cert_info.assign(attest->attestationData, attest->attestationData + attest->size);
  out.signature.resize(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  tpm::check_rc(
    Tss2_MU_TPMT_SIGNATURE_Marshal(sig, out.signature.data(), out.signature.size(), &offset),
    "Tss2_MU_TPMT_SIGNATURE_Marshal");
  out.signature.resize(offset);
  return out;
}

} // namespace ptool::attest
