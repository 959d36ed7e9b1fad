// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/key_use.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/keys/attributes.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::p11 {

namespace {

// CKA_ALLOWED_MECHANISMS as a list: upstream's tool writes !!seq, its library rewrites it as
// the raw CK_ULONG array (hex string) after C_SetAttributeValue.
bool
mechanism_allowed(const AttrMap& attrs, CK_MECHANISM_TYPE type)
{
  auto it = attrs.find(ck::k_allowed_mechanisms);
  if (it == attrs.end()) {
    return false;
  }
  const AttrValue& v = it->second;
  if (v.kind == AttrValue::Kind::k_seq) {
    return std::find(v.seq.begin(), v.seq.end(), type) != v.seq.end();
  }
  if (v.kind == AttrValue::Kind::k_bytes) {
    for (size_t off = 0; off + sizeof(CK_ULONG) <= v.bytes.size(); off += sizeof(CK_ULONG)) {
      CK_ULONG u = 0;
      std::memcpy(&u, v.bytes.data() + off, sizeof(u));
      if (u == type) {
        return true;
      }
    }
  }
  return false;
}

void
read_pss_params(const CK_MECHANISM& mech, const Mechanism& info, Operation& op)
{
  if (!mech.pParameter || mech.ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS)) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  CK_RSA_PKCS_PSS_PARAMS p;
  std::memcpy(&p, mech.pParameter, sizeof(p));
  std::string_view md = md_of_hash_mechanism(p.hashAlg);
  // One hash for message, MGF1 and (for the hashing variants) the mechanism itself.
  if (md.empty() || md_of_mgf(p.mgf) != md || (!info.md.empty() && info.md != md)) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  op.pss_md = md;
  op.salt_len = p.sLen;
}

void
read_oaep_params(const CK_MECHANISM& mech, Operation& op)
{
  if (!mech.pParameter || mech.ulParameterLen != sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  CK_RSA_PKCS_OAEP_PARAMS p;
  std::memcpy(&p, mech.pParameter, sizeof(p));
  std::string_view md = md_of_hash_mechanism(p.hashAlg);
  if (md.empty() || md_of_mgf(p.mgf) != md) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  if (p.source == CKZ_DATA_SPECIFIED && p.pSourceData && p.ulSourceDataLen) {
    auto* src = static_cast<const uint8_t*>(p.pSourceData);
    op.label.assign(src, src + p.ulSourceDataLen);
  } else if (p.source != 0 && p.source != CKZ_DATA_SPECIFIED) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  op.pss_md = md;
}

void
read_aes_params(const CK_MECHANISM& mech, const Mechanism& info, Operation& op)
{
  if (info.aes_mode == TPM2_ALG_ECB) {
    return; // no IV
  }
  if (info.aes_mode == TPM2_ALG_CTR) {
    if (!mech.pParameter || mech.ulParameterLen != sizeof(CK_AES_CTR_PARAMS)) {
      fail(CKR_MECHANISM_PARAM_INVALID);
    }
    CK_AES_CTR_PARAMS p;
    std::memcpy(&p, mech.pParameter, sizeof(p));
    if (p.ulCounterBits == 0 || p.ulCounterBits > 128) {
      fail(CKR_MECHANISM_PARAM_INVALID);
    }
    op.ctr_bits = static_cast<unsigned>(p.ulCounterBits);
    op.iv.assign(p.cb, p.cb + sizeof(p.cb));
    return;
  }
  if (!mech.pParameter || mech.ulParameterLen != 16) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
  auto* iv = static_cast<const uint8_t*>(mech.pParameter);
  op.iv.assign(iv, iv + 16);
}

// Bits of a big-endian unsigned integer (leading zero bytes and bits not counted).
size_t
significant_bits(std::span<const uint8_t> n)
{
  size_t lead = 0;
  while (lead < n.size() && n[lead] == 0) {
    ++lead;
  }
  if (lead == n.size()) {
    return 0;
  }
  size_t bits = (n.size() - lead) * 8;
  for (uint8_t top = n[lead]; !(top & 0x80); top <<= 1) {
    --bits;
  }
  return bits;
}

std::span<const uint8_t>
without_leading_zeros(std::span<const uint8_t> n)
{
  while (!n.empty() && n.front() == 0) {
    n = n.subspan(1);
  }
  return n;
}

[[noreturn]] void
refuse(const Object& obj, const std::string& why)
{
  log(LogLevel::k_warn, "object " + std::to_string(obj.id) + " refused: " + why
                          + " (the store row disagrees with its TPM key; remove it with "
                            "'tpm2-ptool objdel "
                          + std::to_string(obj.id) + "')");
  fail(CKR_FUNCTION_FAILED);
}

size_t
field_bytes_of(TPMI_ECC_CURVE curve)
{
  switch (curve) {
  case TPM2_ECC_NIST_P224:
    return 28;
  case TPM2_ECC_NIST_P256:
    return 32;
  case TPM2_ECC_NIST_P384:
    return 48;
  case TPM2_ECC_NIST_P521:
    return 66;
  default:
    return 0;
  }
}

TPM2B_PUBLIC
tpm_public_of(const Object& obj)
{
  const Bytes* blob = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
  if (!blob) {
    refuse(obj, "no CKA_TPM2_PUB_BLOB");
  }
  try {
    return tpm::unmarshal_public(*blob);
  } catch (const Error&) {
    refuse(obj, "its TPM public blob is malformed");
  }
}

bool
is_hmac_key_type(std::optional<uint64_t> type)
{
  return type == ck::k_k_generic_secret || type == ck::k_k_sha_1_hmac || type == ck::k_k_sha256_hmac
         || type == ck::k_k_sha384_hmac || type == ck::k_k_sha512_hmac;
}

// AES and HMAC keys: class, key type, usage attribute and TPM key fit the mechanism.
void
check_secret_key(const Object& obj, const Mechanism& info, KeyUse use)
{
  if (keys::attr_int(obj.attrs, ck::k_class) != ck::k_o_secret_key) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
  auto type = keys::attr_int(obj.attrs, ck::k_key_type);
  bool aes = info.family == Mechanism::Family::k_aes;
  if (aes ? type != ck::k_k_aes : !is_hmac_key_type(type)) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
  uint64_t usage = use == KeyUse::k_sign      ? ck::k_sign
                   : use == KeyUse::k_verify  ? ck::k_verify
                   : use == KeyUse::k_encrypt ? ck::k_encrypt
                                              : ck::k_decrypt;
  if (!keys::attr_bool(obj.attrs, usage).value_or(false)) {
    fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
  }
  if (aes) {
    tpm_aes_bits(obj); // refuses a row whose TPM key is not AES
  } else if (md_of_tpm_hash(tpm_hmac_hash(obj)) != info.md) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
}

} // namespace

TPM2_ALG_ID
tpm_hmac_hash(const Object& obj)
{
  TPM2B_PUBLIC pub = tpm_public_of(obj);
  const auto& scheme = pub.publicArea.parameters.keyedHashDetail.scheme;
  if (pub.publicArea.type != TPM2_ALG_KEYEDHASH || scheme.scheme != TPM2_ALG_HMAC
      || md_of_tpm_hash(scheme.details.hmac.hashAlg).empty()) {
    refuse(obj, "the TPM key is not an HMAC key");
  }
  return scheme.details.hmac.hashAlg;
}

size_t
tpm_aes_bits(const Object& obj)
{
  TPM2B_PUBLIC pub = tpm_public_of(obj);
  const auto& sym = pub.publicArea.parameters.symDetail.sym;
  if (pub.publicArea.type != TPM2_ALG_SYMCIPHER || sym.algorithm != TPM2_ALG_AES
      || (sym.keyBits.aes != 128 && sym.keyBits.aes != 192 && sym.keyBits.aes != 256)) {
    refuse(obj, "the TPM key is not an AES key");
  }
  return sym.keyBits.aes;
}

TpmKeyFacts
tpm_key_facts(const Object& obj)
{
  TPM2B_PUBLIC pub = tpm_public_of(obj);
  const TPMT_PUBLIC& area = pub.publicArea;
  auto type = keys::attr_int(obj.attrs, ck::k_key_type);
  TpmKeyFacts facts;
  if (area.type == TPM2_ALG_RSA) {
    if (type != ck::k_k_rsa) {
      refuse(obj, "CKA_KEY_TYPE is not RSA but the TPM key is");
    }
    const TPM2B_PUBLIC_KEY_RSA& n = area.unique.rsa;
    std::span<const uint8_t> tpm_n(n.buffer, std::min<size_t>(n.size, sizeof(n.buffer)));
    facts.modulus_bits = significant_bits(tpm_n);
    if (facts.modulus_bits < 1024 || facts.modulus_bits > 8 * sizeof(n.buffer)) {
      refuse(obj, "the TPM key's modulus has " + std::to_string(facts.modulus_bits) + " bits");
    }
    const Bytes* attr_n = keys::attr_bytes(obj.attrs, ck::k_modulus);
    if (attr_n) {
      auto a = without_leading_zeros(*attr_n);
      auto t = without_leading_zeros(tpm_n);
      if (!std::equal(a.begin(), a.end(), t.begin(), t.end())) {
        refuse(obj, "CKA_MODULUS is not the TPM key's modulus");
      }
    }
    return facts;
  }
  if (area.type == TPM2_ALG_ECC) {
    if (type != ck::k_k_ec) {
      refuse(obj, "CKA_KEY_TYPE is not EC but the TPM key is");
    }
    facts.ec = true;
    facts.field_bytes = field_bytes_of(area.parameters.eccDetail.curveID);
    if (!facts.field_bytes) {
      refuse(obj, "the TPM key is on an unsupported curve");
    }
    const Bytes* params = keys::attr_bytes(obj.attrs, ck::k_ec_params);
    auto curve = params ? keys::curve_by_params(*params) : std::nullopt;
    if (!curve || curve->field_bytes != facts.field_bytes) {
      refuse(obj, "CKA_EC_PARAMS does not name the TPM key's curve");
    }
    const Bytes* point = keys::attr_bytes(obj.attrs, ck::k_ec_point);
    if (point) {
      auto p = keys::ec_point_for_curve(*point, *curve);
      const TPMS_ECC_POINT& q = area.unique.ecc;
      auto x = without_leading_zeros(
        std::span<const uint8_t>(q.x.buffer, std::min<size_t>(q.x.size, sizeof(q.x.buffer))));
      auto y = without_leading_zeros(
        std::span<const uint8_t>(q.y.buffer, std::min<size_t>(q.y.size, sizeof(q.y.buffer))));
      if (!p || p->size() != 1 + 2 * facts.field_bytes
          || !std::ranges::equal(
            without_leading_zeros(std::span<const uint8_t>(*p).subspan(1, facts.field_bytes)), x)
          || !std::ranges::equal(
            without_leading_zeros(std::span<const uint8_t>(*p).subspan(1 + facts.field_bytes)),
            y)) {
        refuse(obj, "CKA_EC_POINT is not the TPM key's public point");
      }
    }
    return facts;
  }
  refuse(obj, "the TPM key is neither RSA nor EC");
}

void
start_operation(Module& m, Session& s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, KeyUse use)
{
  if (!mech) {
    fail(CKR_ARGUMENTS_BAD);
  }
  if (s.op.kind != Operation::Kind::k_none) {
    fail(CKR_OPERATION_ACTIVE);
  }
  const Object& obj = m.key(s, key);
  const Mechanism* info = find_mechanism(mech->mechanism);
  CK_FLAGS need = use == KeyUse::k_sign      ? CKF_SIGN
                  : use == KeyUse::k_verify  ? CKF_VERIFY
                  : use == KeyUse::k_encrypt ? CKF_ENCRYPT
                                             : CKF_DECRYPT;
  if (!info || !(info->flags & need)) {
    fail(CKR_MECHANISM_INVALID);
  }
  // Not listed for this key (as upstream, checked before the key's type and usage).
  if (!mechanism_allowed(obj.attrs, mech->mechanism)) {
    fail(CKR_MECHANISM_INVALID);
  }
  using F = Mechanism::Family;
  if (info->family == F::k_aes || info->family == F::k_hmac) {
    check_secret_key(obj, *info, use);
  } else {
    auto cls = keys::attr_int(obj.attrs, ck::k_class);
    auto type = keys::attr_int(obj.attrs, ck::k_key_type);
    bool ec = info->family == F::k_ecdsa;
    if (type != (ec ? ck::k_k_ec : ck::k_k_rsa)) {
      fail(CKR_KEY_TYPE_INCONSISTENT);
    }
    if (use == KeyUse::k_verify || use == KeyUse::k_encrypt) {
      if (cls != ck::k_o_public_key && cls != ck::k_o_private_key) {
        fail(CKR_KEY_TYPE_INCONSISTENT);
      }
      uint64_t usage = use == KeyUse::k_verify ? ck::k_verify : ck::k_encrypt;
      if (cls == ck::k_o_public_key && !keys::attr_bool(obj.attrs, usage).value_or(true)) {
        fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
      }
    } else {
      if (cls != ck::k_o_private_key) {
        fail(CKR_KEY_TYPE_INCONSISTENT);
      }
      uint64_t usage = use == KeyUse::k_sign ? ck::k_sign : ck::k_decrypt;
      if (!keys::attr_bool(obj.attrs, usage).value_or(false)) {
        fail(CKR_KEY_FUNCTION_NOT_PERMITTED);
      }
      if (tpm_key_facts(obj).ec != ec) { // refuses a row that disagrees with its TPM key
        fail(CKR_KEY_TYPE_INCONSISTENT);
      }
    }
  }
  Operation op;
  op.mech = info;
  op.key = obj.id;
  op.needs_context_login = use != KeyUse::k_verify && use != KeyUse::k_encrypt
                           && keys::attr_bool(obj.attrs, ck::k_always_authenticate).value_or(false);
  if (info->family == F::k_rsa_pss) {
    read_pss_params(*mech, *info, op);
  } else if (info->family == F::k_rsa_oaep) {
    read_oaep_params(*mech, op);
  } else if (info->family == F::k_aes) {
    read_aes_params(*mech, *info, op);
  }
  op.kind = use == KeyUse::k_sign      ? Operation::Kind::k_sign
            : use == KeyUse::k_verify  ? Operation::Kind::k_verify
            : use == KeyUse::k_encrypt ? Operation::Kind::k_encrypt
                                       : Operation::Kind::k_decrypt;
  s.op = std::move(op);
}

size_t
modulus_bits(const AttrMap& attrs)
{
  const Bytes* n = keys::attr_bytes(attrs, ck::k_modulus);
  if (!n || n->empty()) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
  return significant_bits(*n);
}

size_t
ec_field_bytes(const AttrMap& attrs)
{
  const Bytes* params = keys::attr_bytes(attrs, ck::k_ec_params);
  auto curve = params ? keys::curve_by_params(*params) : std::nullopt;
  if (!curve) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
  return curve->field_bytes;
}

size_t
signature_size(const AttrMap& attrs)
{
  if (keys::attr_int(attrs, ck::k_key_type) == ck::k_k_ec) {
    return 2 * ec_field_bytes(attrs);
  }
  return (modulus_bits(attrs) + 7) / 8;
}

Session&
active(Module& m, CK_SESSION_HANDLE h, Operation::Kind kind)
{
  Session& s = m.session(h);
  if (s.op.kind != kind) {
    fail(CKR_OPERATION_NOT_INITIALIZED);
  }
  return s;
}

std::span<const uint8_t>
bytes(CK_BYTE_PTR p, CK_ULONG len)
{
  if (!p && len) {
    fail(CKR_ARGUMENTS_BAD);
  }
  return {p, p ? len : 0};
}

} // namespace ptool::p11
