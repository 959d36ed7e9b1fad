// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/device.hpp"

#include <algorithm>
#include <cstring>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <openssl/x509.h>

#include "core/attest/public.hpp"

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/tpm/primary.hpp"
#include "core/tpm/salted_session.hpp"

namespace ptool::attest {

namespace {

// PolicyA of the TCG EK Credential Profile (§B.6.2): PolicySecret(TPM_RH_ENDORSEMENT) with
// SHA-256, SHA-384 and SHA-512; the authPolicy of the low-range templates L-1 and L-2.
constexpr uint8_t k_policy_a_sha256[32] = {
  0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
  0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};
constexpr uint8_t k_policy_a_sha384[48] = {
  0x8b, 0xbf, 0x22, 0x66, 0x53, 0x7c, 0x17, 0x1c, 0xb5, 0x6e, 0x40, 0x3c, 0x4d, 0xc1, 0xd4, 0xb6,
  0x4f, 0x43, 0x26, 0x11, 0xdc, 0x38, 0x6e, 0x6f, 0x53, 0x20, 0x50, 0xc3, 0x27, 0x8c, 0x93, 0x0e,
  0x14, 0x3e, 0x8b, 0xb1, 0x13, 0x38, 0x24, 0xcc, 0xb4, 0x31, 0x05, 0x38, 0x71, 0xc6, 0xdb, 0x53};
constexpr uint8_t k_policy_a_sha512[64] = {
  0x1e, 0x3b, 0x76, 0x50, 0x2c, 0x8a, 0x14, 0x25, 0xaa, 0x0b, 0x7b, 0x3f, 0xc6, 0x46, 0xa1, 0xb0,
  0xfa, 0xe0, 0x63, 0xb0, 0x3b, 0x53, 0x68, 0xf9, 0xc4, 0xcd, 0xde, 0xca, 0xff, 0x08, 0x91, 0xdd,
  0x68, 0x2b, 0xac, 0x1a, 0x85, 0xd4, 0xd8, 0x32, 0xb7, 0x81, 0xea, 0x45, 0x19, 0x15, 0xde, 0x5f,
  0xc5, 0xbf, 0x0d, 0xc4, 0xa1, 0x91, 0x7c, 0xd4, 0x2f, 0xa0, 0x41, 0xe3, 0xf9, 0x98, 0xe0, 0xee};
// PolicyC (§B.6.4): PolicyAuthorizeNV of the policy index 0x01c07f01 (SHA-256), 0x01c07f02
// (SHA-384), 0x01c07f03 (SHA-512); the second branch of the high-range templates' PolicyOR.
constexpr uint8_t k_policy_c_sha256[32] = {
  0x37, 0x67, 0xe2, 0xed, 0xd4, 0x3f, 0xf4, 0x5a, 0x3a, 0x7e, 0x1e, 0xae, 0xfc, 0xef, 0x78, 0x64,
  0x3d, 0xca, 0x96, 0x46, 0x32, 0xe7, 0xaa, 0xd8, 0x2c, 0x67, 0x3a, 0x30, 0xd8, 0x63, 0x3f, 0xde};
constexpr uint8_t k_policy_c_sha384[48] = {
  0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c, 0xf6, 0xa3, 0x32, 0x37, 0xef,
  0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c, 0x22, 0xb4, 0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5,
  0xb4, 0x94, 0x7c, 0x2d, 0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b, 0x35, 0x93, 0xd1, 0x65};
constexpr uint8_t k_policy_c_sha512[64] = {
  0x58, 0x9e, 0xe1, 0xe1, 0x46, 0x54, 0x47, 0x16, 0xe8, 0xde, 0xaf, 0xe6, 0xdb, 0x24, 0x7b, 0x01,
  0xb8, 0x1e, 0x9f, 0x9c, 0x7d, 0xd1, 0x6b, 0x81, 0x4a, 0xa1, 0x59, 0x13, 0x87, 0x49, 0x10, 0x5f,
  0xba, 0x53, 0x88, 0xdd, 0x1d, 0xea, 0x70, 0x2f, 0x35, 0x24, 0x0c, 0x18, 0x49, 0x33, 0x12, 0x1e,
  0x2c, 0x61, 0xb8, 0xf5, 0x0d, 0x3e, 0xf9, 0x13, 0x93, 0xa4, 0x9a, 0x38, 0xc3, 0xf7, 0x3f, 0xc8};
// PolicyB = PolicyOR(PolicyA, PolicyC) (§B.6.5): the authPolicy of the high-range templates.
constexpr uint8_t k_policy_b_sha256[32] = {
  0xca, 0x3d, 0x0a, 0x99, 0xa2, 0xb9, 0x39, 0x06, 0xf7, 0xa3, 0x34, 0x24, 0x14, 0xef, 0xcf, 0xb3,
  0xa3, 0x85, 0xd4, 0x4c, 0xd1, 0xfd, 0x45, 0x90, 0x89, 0xd1, 0x9b, 0x50, 0x71, 0xc0, 0xb7, 0xa0};
constexpr uint8_t k_policy_b_sha384[48] = {
  0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
  0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
  0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12};
constexpr uint8_t k_policy_b_sha512[64] = {
  0xb8, 0x22, 0x1c, 0xa6, 0x9e, 0x85, 0x50, 0xa4, 0x91, 0x4d, 0xe3, 0xfa, 0xa6, 0xa1, 0x8c, 0x07,
  0x2c, 0xc0, 0x12, 0x08, 0x07, 0x3a, 0x92, 0x8d, 0x5d, 0x66, 0xd5, 0x9e, 0xf7, 0x9e, 0x49, 0xa4,
  0x29, 0xc4, 0x1a, 0x6b, 0x26, 0x95, 0x71, 0xd5, 0x7e, 0xdb, 0x25, 0xfb, 0xdb, 0x18, 0x38, 0x42,
  0x56, 0x08, 0xb4, 0x13, 0xcd, 0x61, 0x6a, 0x5f, 0x6d, 0xb5, 0xb6, 0x07, 0x1a, 0xf9, 0x9b, 0xea};

// The TCG EK Credential Profile's certificate indices and default templates, in the order
// enrollment tries them. H-5 (ECC SM2 P256, SM3/SM4) is listed so it can be named.
struct ProfileEntry
{
  uint32_t nv_index;
  const char* name;
  TPM2_ALG_ID type;
  uint16_t bits_or_curve; // RSA key bits or TPM2_ECC_CURVE
  TPM2_ALG_ID name_alg;
  uint16_t aes_bits;
  const char* what;
};

constexpr ProfileEntry k_profile[] = {
  {0x01c00002, "L-1", TPM2_ALG_RSA, 2048, TPM2_ALG_SHA256, 128, "RSA 2048"},
  {0x01c0000a, "L-2", TPM2_ALG_ECC, TPM2_ECC_NIST_P256, TPM2_ALG_SHA256, 128, "ECC NIST P-256"},
  {0x01c00012, "H-1", TPM2_ALG_RSA, 2048, TPM2_ALG_SHA256, 128, "RSA 2048"},
  {0x01c00014, "H-2", TPM2_ALG_ECC, TPM2_ECC_NIST_P256, TPM2_ALG_SHA256, 128, "ECC NIST P-256"},
  {0x01c00016, "H-3", TPM2_ALG_ECC, TPM2_ECC_NIST_P384, TPM2_ALG_SHA384, 256, "ECC NIST P-384"},
  {0x01c00018, "H-4", TPM2_ALG_ECC, TPM2_ECC_NIST_P521, TPM2_ALG_SHA512, 256, "ECC NIST P-521"},
  {0x01c0001a, "H-5", TPM2_ALG_ECC, TPM2_ECC_SM2_P256, TPM2_ALG_SM3_256, 128, "ECC SM2 P-256"},
  {0x01c0001c, "H-6", TPM2_ALG_RSA, 3072, TPM2_ALG_SHA384, 256, "RSA 3072"},
  {0x01c0001e, "H-7", TPM2_ALG_RSA, 4096, TPM2_ALG_SHA384, 256, "RSA 4096"},
};

const ProfileEntry*
find_profile(const std::string& name)
{
  for (const ProfileEntry& e : k_profile) {
    if (name == e.name) {
      return &e;
    }
  }
  return nullptr;
}

bool
is_high(const ProfileEntry& e)
{
  return e.name[0] == 'H';
}

std::span<const uint8_t>
policy_a(TPM2_ALG_ID hash)
{
  switch (hash) {
  case TPM2_ALG_SHA384:
    return k_policy_a_sha384;
  case TPM2_ALG_SHA512:
    return k_policy_a_sha512;
  default:
    return k_policy_a_sha256;
  }
}

std::span<const uint8_t>
policy_c(TPM2_ALG_ID hash)
{
  switch (hash) {
  case TPM2_ALG_SHA384:
    return k_policy_c_sha384;
  case TPM2_ALG_SHA512:
    return k_policy_c_sha512;
  default:
    return k_policy_c_sha256;
  }
}

std::span<const uint8_t>
policy_b(TPM2_ALG_ID hash)
{
  switch (hash) {
  case TPM2_ALG_SHA384:
    return k_policy_b_sha384;
  case TPM2_ALG_SHA512:
    return k_policy_b_sha512;
  default:
    return k_policy_b_sha256;
  }
}

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

constexpr const char* k_endorsement_hint =
  "the endorsement hierarchy has a password or it is wrong: pass it with "
  "--endorsement-auth-file or $TPM2_PTOOL_ENDORSEMENT_AUTH";

// check_rc, with the endorsement hierarchy's options in the hint of an auth failure.
void
check_endorsement_rc(TSS2_RC rc, const char* what)
{
  try {
    tpm::check_rc(rc, what);
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_auth || tpm::is_lockout(e)) {
      throw;
    }
    throw Error(ExitCode::k_auth, e.what(), k_endorsement_hint);
  }
}

HierarchyKey
create_in_endorsement(ESYS_CONTEXT* ctx, EndorsementAuth& auth, const TPMT_PUBLIC& tmpl,
                      const char* what)
{
  TPM2B_PUBLIC in{};
  in.publicArea = tmpl;
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out = nullptr;
  TSS2_RC rc =
    Esys_CreatePrimary(ctx, ESYS_TR_RH_ENDORSEMENT, auth.session(), ESYS_TR_NONE, ESYS_TR_NONE,
                       &sensitive, &in, &outside, &pcrs, &handle, &out, nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> owned(out);
  check_endorsement_rc(rc, what);
  HierarchyKey key;
  key.obj = tpm::TpmObject(ctx, handle, tpm::TpmObject::Drop::k_flush);
  key.pub = out->publicArea;
  return key;
}

Bytes
read_certificate(ESYS_CONTEXT* ctx, uint32_t index)
{
  Bytes der = nv_read_all(ctx, index);
  // Some TPMs pad the index with 0xff or zeros: keep the DER SEQUENCE only.
  if (der.size() >= 4 && der[0] == 0x30 && der[1] == 0x82) {
    size_t len = 4 + (static_cast<size_t>(der[2]) << 8 | der[3]);
    if (len <= der.size()) {
      der.resize(len);
    }
  }
  return der;
}

using X509Ptr = CHandle<X509, X509_free>;

} // namespace

EndorsementAuth::EndorsementAuth(ESYS_CONTEXT* ctx, std::span<const uint8_t> auth) : m_ctx(ctx)
{
  tpm::set_auth(ctx, ESYS_TR_RH_ENDORSEMENT, auth);
  if (!auth.empty()) {
    tpm::TpmObject salt = tpm::create_salt_key(ctx); // flushed once the session is started
    m_session.emplace(ctx, salt.get());
  }
}

ESYS_TR
EndorsementAuth::session()
{
  if (!m_session) {
    return ESYS_TR_PASSWORD;
  }
  m_session->use_for(false, false);
  return m_session->get();
}

bool
endorsement_auth_set(ESYS_CONTEXT* ctx)
{
  TPMS_CAPABILITY_DATA* data = nullptr;
  TPMI_YES_NO more = TPM2_NO;
  tpm::check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   TPM2_CAP_TPM_PROPERTIES, TPM2_PT_PERMANENT, 1, &more, &data),
                "TPM2_GetCapability(TPM_PT_PERMANENT)");
  EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
  const auto& props = data->data.tpmProperties;
  return props.count >= 1 && props.tpmProperty[0].property == TPM2_PT_PERMANENT
         && (props.tpmProperty[0].value & TPMA_PERMANENT_ENDORSEMENTAUTHSET) != 0;
}

std::string
ek_template_for_index(uint32_t nv_index)
{
  for (const ProfileEntry& e : k_profile) {
    if (e.nv_index == nv_index) {
      return e.name;
    }
  }
  return {};
}

TPMT_PUBLIC
ek_template(const std::string& name)
{
  const ProfileEntry* e = find_profile(name);
  if (!e) {
    throw Error(ExitCode::k_unsupported, "unknown EK template \"" + name + "\"");
  }
  if (e->name_alg == TPM2_ALG_SM3_256) {
    throw Error(ExitCode::k_unsupported,
                "EK template " + name + " (" + e->what + ", SM3/SM4) at " + hex32(e->nv_index)
                  + " is not supported",
                "use an EK certificate of another template (--ek-index)");
  }
  TPMT_PUBLIC t{};
  t.nameAlg = e->name_alg;
  t.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                       | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY
                       | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  std::span<const uint8_t> policy = policy_a(e->name_alg);
  if (is_high(*e)) {
    t.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
    policy = policy_b(e->name_alg);
  }
  t.authPolicy.size = static_cast<UINT16>(policy.size());
  std::memcpy(t.authPolicy.buffer, policy.data(), policy.size());
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = e->aes_bits;
  sym.mode.aes = TPM2_ALG_CFB;
  if (e->type == TPM2_ALG_RSA) {
    t.type = TPM2_ALG_RSA;
    t.parameters.rsaDetail.symmetric = sym;
    t.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.rsaDetail.keyBits = e->bits_or_curve;
    t.parameters.rsaDetail.exponent = 0;
    // Low range: unique is zeros of the key size; high range: empty.
    t.unique.rsa.size = is_high(*e) ? 0 : static_cast<UINT16>(e->bits_or_curve / 8);
  } else {
    t.type = TPM2_ALG_ECC;
    t.parameters.eccDetail.symmetric = sym;
    t.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.eccDetail.curveID = e->bits_or_curve;
    t.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    t.unique.ecc.x.size = is_high(*e) ? 0 : 32;
    t.unique.ecc.y.size = is_high(*e) ? 0 : 32;
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
create_ek(ESYS_CONTEXT* ctx, EndorsementAuth& auth, const std::string& template_name)
{
  return create_in_endorsement(ctx, auth, ek_template(template_name), "TPM2_CreatePrimary(EK)");
}

HierarchyKey
create_ak(ESYS_CONTEXT* ctx, EndorsementAuth& auth)
{
  return create_in_endorsement(ctx, auth, ak_template(), "TPM2_CreatePrimary(AK)");
}

EnrolledEk
find_ek(ESYS_CONTEXT* ctx, EndorsementAuth& auth, std::optional<uint32_t> only_index)
{
  if (only_index && ek_template_for_index(*only_index).empty()) {
    throw Error(ExitCode::k_usage,
                "--ek-index " + hex32(*only_index)
                  + " is not an EK certificate index of the TCG EK Credential Profile",
                "use 0x01c00002 (L-1), 0x01c0000a (L-2) or 0x01c00012..0x01c0001e (H-1..H-7)");
  }
  std::vector<uint32_t> present = nv_indices(ctx);
  auto has = [&](uint32_t i) {
    return std::find(present.begin(), present.end(), i) != present.end();
  };
  std::optional<Error> first_problem;
  std::string tried;
  for (const ProfileEntry& e : k_profile) {
    if ((only_index && *only_index != e.nv_index) || !has(e.nv_index)) {
      continue;
    }
    const std::string where = hex32(e.nv_index) + " (template " + e.name + ", " + e.what + ")";
    tried += (tried.empty() ? "" : ", ") + where;
    // The profile keeps a non-default template (and, low range, a nonce for `unique`) in
    // the indices after the certificate: that EK is not the default template's.
    const uint32_t template_index = e.nv_index + (is_high(e) ? 1 : 2);
    if (has(template_index) || (!is_high(e) && has(e.nv_index + 1))) {
      if (!first_problem) {
        first_problem.emplace(ExitCode::k_unsupported,
                              "the EK certificate at " + where
                                + " is for a non-default EK template kept in NV at "
                                + hex32(template_index) + ", which tpm2-ptool does not support",
                              "use a certificate of a default template (--ek-index)");
      }
      continue;
    }
    if (e.name_alg == TPM2_ALG_SM3_256) {
      if (!first_problem) {
        first_problem.emplace(ExitCode::k_unsupported,
                              "the EK certificate at " + where
                                + " needs SM2/SM3/SM4, which tpm2-ptool does not support",
                              "use a certificate of another template (--ek-index)");
      }
      continue;
    }
    EnrolledEk out;
    out.cert.nv_index = e.nv_index;
    out.cert.template_name = e.name;
    out.cert.der = read_certificate(ctx, e.nv_index);
    const unsigned char* p = out.cert.der.data();
    X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(out.cert.der.size())));
    if (!x509) {
      if (!first_problem) {
        first_problem.emplace(ExitCode::k_general,
                              "the EK certificate at " + where + " is not DER X.509");
      }
      continue;
    }
    out.ek = create_ek(ctx, auth, e.name);
    EvpPkey ek_key = public_key(out.ek.pub);
    if (EVP_PKEY_eq(X509_get0_pubkey(x509.get()), ek_key.get()) != 1) {
      if (!first_problem) {
        first_problem.emplace(ExitCode::k_general,
                              "the EK certificate at " + where
                                + " is not for the EK of that TCG template",
                              "the TPM's EK certificate and seed disagree; ask the TPM vendor");
      }
      continue;
    }
    return out;
  }
  if (first_problem) {
    throw *first_problem;
  }
  if (only_index) {
    throw_not_found("the TPM has no EK certificate at " + hex32(*only_index),
                    "leave out --ek-index to use the first certificate the TPM has");
  }
  throw_not_found("the TPM has no EK certificate at the TCG EK Credential Profile indices "
                  "(0x01c00002, 0x01c0000a, 0x01c00012..0x01c0001e)",
                  "provision one (the TPM vendor does; swtpm_setup --create-ek-cert for swtpm)");
}

SecureBytes
activate_credential(ESYS_CONTEXT* ctx, EndorsementAuth& auth, const HierarchyKey& ek,
                    const std::string& ek_template_name, const HierarchyKey& ak,
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
  ESYS_TR session = tpm::start_auth_session(ctx, ek.obj.get(), TPM2_SE_POLICY, symmetric,
                                            ek.pub.nameAlg, "TPM2_StartAuthSession(EK policy)");
  tpm::TpmObject owned(ctx, session, tpm::TpmObject::Drop::k_flush);
  check_endorsement_rc(Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, auth.session(),
                                         ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr, nullptr, 0,
                                         nullptr, nullptr),
                       "TPM2_PolicySecret(endorsement)");
  const ProfileEntry* e = find_profile(ek_template_name);
  if (!e) {
    throw Error(ExitCode::k_unsupported, "unknown EK template \"" + ek_template_name + "\"");
  }
  if (is_high(*e)) {
    // PolicyB = PolicyOR(PolicyA, PolicyC): the session now holds PolicyA.
    TPML_DIGEST branches{};
    branches.count = 2;
    for (auto [i, d] : {std::pair{0, policy_a(e->name_alg)}, std::pair{1, policy_c(e->name_alg)}}) {
      branches.digests[i].size = static_cast<UINT16>(d.size());
      std::memcpy(branches.digests[i].buffer, d.data(), d.size());
    }
    tpm::check_rc(Esys_PolicyOR(ctx, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &branches),
                  "TPM2_PolicyOR(EK PolicyA, PolicyC)");
  }
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
