// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/attributes.hpp"

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::keys {

namespace {

using V = AttrValue;

Bytes
text_bytes(std::string_view s)
{
  return Bytes(s.begin(), s.end());
}

std::vector<uint64_t>
rsa_mechanisms(const tpm::AlgorithmSet& algs)
{
  // 1.9.0's list plus CKM_SHA1_RSA_PKCS, which 1.9.2 added (harmless, and makes
  // SHA1-RSA-PKCS work through the library).
  std::vector<uint64_t> m = {
    ck::k_m_rsa_x_509,       ck::k_m_rsa_pkcs_oaep,   ck::k_m_rsa_pkcs,       ck::k_m_sha1_rsa_pkcs,
    ck::k_m_sha256_rsa_pkcs, ck::k_m_sha384_rsa_pkcs, ck::k_m_sha512_rsa_pkcs};
  if (algs.has(TPM2_ALG_RSAPSS)) {
    m.insert(m.end(),
             {ck::k_m_rsa_pkcs_pss, ck::k_m_sha1_rsa_pkcs_pss, ck::k_m_sha256_rsa_pkcs_pss});
    if (algs.has(TPM2_ALG_SHA384)) {
      m.push_back(ck::k_m_sha384_rsa_pkcs_pss);
    }
    if (algs.has(TPM2_ALG_SHA512)) {
      m.push_back(ck::k_m_sha512_rsa_pkcs_pss);
    }
  }
  return m;
}

std::vector<uint64_t>
ec_mechanisms(const tpm::AlgorithmSet& algs)
{
  std::vector<uint64_t> m = {ck::k_m_ecdsa, ck::k_m_ecdsa_sha1, ck::k_m_ecdsa_sha256};
  if (algs.has(TPM2_ALG_SHA384)) {
    m.push_back(ck::k_m_ecdsa_sha384);
  }
  if (algs.has(TPM2_ALG_SHA512)) {
    m.push_back(ck::k_m_ecdsa_sha512);
  }
  return m;
}

std::vector<uint64_t>
aes_mechanisms(const tpm::AlgorithmSet& algs)
{
  std::vector<uint64_t> m;
  if (algs.has(TPM2_ALG_CBC)) {
    m.insert(m.end(), {ck::k_m_aes_cbc, ck::k_m_aes_cbc_pad});
  }
  if (algs.has(TPM2_ALG_CFB)) {
    m.push_back(ck::k_m_aes_cfb128);
  }
  if (algs.has(TPM2_ALG_ECB)) {
    m.push_back(ck::k_m_aes_ecb);
  }
  if (algs.has(TPM2_ALG_OFB)) {
    m.push_back(ck::k_m_aes_ofb);
  }
  if (algs.has(TPM2_ALG_CTR)) {
    m.push_back(ck::k_m_aes_ctr);
  }
  if (m.empty()) {
    throw Error(ExitCode::k_unsupported, "this TPM supports no AES mode the store can use");
  }
  return m;
}

struct HmacInfo
{
  uint64_t key_type;
  uint64_t mechanism;
  uint64_t len;
};

HmacInfo
hmac_info(TPM2_ALG_ID hash)
{
  switch (hash) {
  case TPM2_ALG_SHA1:
    return {ck::k_k_sha_1_hmac, ck::k_m_sha_1_hmac, 20};
  case TPM2_ALG_SHA256:
    return {ck::k_k_sha256_hmac, ck::k_m_sha256_hmac, 32};
  case TPM2_ALG_SHA384:
    return {ck::k_k_sha384_hmac, ck::k_m_sha384_hmac, 48};
  case TPM2_ALG_SHA512:
    return {ck::k_k_sha512_hmac, ck::k_m_sha512_hmac, 64};
  default:
    throw Error(ExitCode::k_unsupported, "HMAC key with an unsupported hash");
  }
}

// Minimal big-endian bytes of the RSA exponent (0 means 65537).
Bytes
exponent_bytes(UINT32 e)
{
  if (e == 0) {
    e = 65537;
  }
  Bytes out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    uint8_t b = static_cast<uint8_t>(e >> shift);
    if (!out.empty() || b != 0) {
      out.push_back(b);
    }
  }
  return out;
}

Bytes
padded(const TPM2B_ECC_PARAMETER& p, size_t len)
{
  Bytes out(len > p.size ? len - p.size : 0, 0);
  out.insert(out.end(), p.buffer, p.buffer + p.size);
  return out;
}

// CKA_EC_POINT: DER OCTET STRING around 04||X||Y, with a correct long-form length for P-521.
Bytes
ec_point_der(const TPMS_ECC_POINT& q, size_t field)
{
  // Longer coordinates (a malformed public area) would overflow the one-byte DER length.
  if (q.x.size > field || q.y.size > field) {
    throw Error(ExitCode::k_usage, "the key's EC point is longer than its curve allows");
  }
  Bytes point = {0x04};
  Bytes x = padded(q.x, field);
  Bytes y = padded(q.y, field);
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  Bytes der = {0x04};
  if (point.size() >= 0x80) {
    der.push_back(0x81);
  }
  der.push_back(static_cast<uint8_t>(point.size()));
  der.insert(der.end(), point.begin(), point.end());
  return der;
}

} // namespace

void
set_identity(KeyObjectInput& in, const std::optional<std::string>& id,
             const std::optional<std::string>& label, bool always_authenticate)
{
  in.id = id ? to_bytes(*id) : to_bytes(crypto::random_hex(8).view());
  in.label = label.value_or("");
  in.always_authenticate = always_authenticate;
}

std::vector<AttrMap>
key_objects(const KeyObjectInput& in, const tpm::AlgorithmSet& algs)
{
  const TPMT_PUBLIC& pub = in.pub.publicArea;
  const TPMA_OBJECT a = pub.objectAttributes;
  const bool sign = a & TPMA_OBJECT_SIGN_ENCRYPT;
  const bool decrypt = a & TPMA_OBJECT_DECRYPT;
  const bool extractable = !((a & TPMA_OBJECT_FIXEDTPM) && (a & TPMA_OBJECT_FIXEDPARENT));
  const bool local = a & TPMA_OBJECT_SENSITIVEDATAORIGIN;
  const Bytes pub_blob = tpm::marshal_public(in.pub);
  const Bytes label = text_bytes(in.label);

  AttrMap common = {
    {ck::k_token, V::boolean(true)},
    {ck::k_label, V::data(label)},
    {ck::k_id, V::data(in.id)},
    {ck::k_subject, V::data({})},
    {ck::k_derive, V::boolean(false)},
    {ck::k_start_date, V::data({})},
    {ck::k_end_date, V::data({})},
    {ck::k_local, V::boolean(local)},
    {ck::k_modifiable, V::boolean(false)},
    {ck::k_copyable, V::boolean(false)},
    {ck::k_destroyable, V::boolean(true)},
    {ck::k_tpm2_pub_blob, V::data(pub_blob)},
  };
  AttrMap secret_part = {
    {ck::k_private, V::boolean(true)},
    {ck::k_sensitive, V::boolean(true)},
    {ck::k_extractable, V::boolean(extractable)},
    {ck::k_never_extractable, V::boolean(!extractable)},
    {ck::k_always_sensitive, V::boolean(!extractable)},
    {ck::k_always_authenticate, V::boolean(in.always_authenticate)},
    {ck::k_wrap_with_trusted, V::boolean(false)},
    {ck::k_tpm2_objauth_enc, V::data(text_bytes(in.wrapped_auth))},
    {ck::k_tpm2_priv_blob, V::data(tpm::marshal_private(in.priv))},
  };
  auto merged = [](AttrMap base, const AttrMap& more) {
    base.insert(more.begin(), more.end());
    return base;
  };

  AttrMap key_specific;
  std::vector<uint64_t> mechs;
  uint64_t key_type = 0;
  uint64_t keygen = 0;
  switch (pub.type) {
  case TPM2_ALG_RSA: {
    if (pub.parameters.rsaDetail.scheme.scheme != TPM2_ALG_NULL) {
      throw Error(ExitCode::k_unsupported, "Cannot map scheme to allowed mechanism",
                  "only keys with the TPM's NULL signing scheme can be used through PKCS#11");
    }
    key_type = ck::k_k_rsa;
    keygen = ck::k_m_rsa_pkcs_key_pair_gen;
    const auto& n = pub.unique.rsa;
    key_specific = {
      {ck::k_modulus, V::data(Bytes(n.buffer, n.buffer + n.size))},
      {ck::k_modulus_bits, V::integer(pub.parameters.rsaDetail.keyBits)},
      {ck::k_public_exponent, V::data(exponent_bytes(pub.parameters.rsaDetail.exponent))},
    };
    mechs = rsa_mechanisms(algs);
    break;
  }
  case TPM2_ALG_ECC: {
    if (pub.parameters.eccDetail.scheme.scheme != TPM2_ALG_NULL) {
      throw Error(ExitCode::k_unsupported, "Cannot map scheme to allowed mechanism",
                  "only keys with the TPM's NULL signing scheme can be used through PKCS#11");
    }
    unsigned bits = 0;
    switch (pub.parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P224:
      bits = 224;
      break;
    case TPM2_ECC_NIST_P256:
      bits = 256;
      break;
    case TPM2_ECC_NIST_P384:
      bits = 384;
      break;
    case TPM2_ECC_NIST_P521:
      bits = 521;
      break;
    default:
      throw Error(ExitCode::k_unsupported, "the key's ECC curve cannot be stored");
    }
    auto curve = curve_by_bits(bits);
    key_type = ck::k_k_ec;
    keygen = ck::k_m_ec_key_pair_gen;
    key_specific = {
      {ck::k_ec_params, V::data(curve->der_oid)},
      {ck::k_ec_point, V::data(ec_point_der(pub.unique.ecc, curve->field_bytes))},
    };
    mechs = ec_mechanisms(algs);
    break;
  }
  case TPM2_ALG_SYMCIPHER: {
    common.erase(ck::k_subject);
    AttrMap secret =
      merged(merged(common, secret_part),
             {
               {ck::k_class, V::integer(ck::k_o_secret_key)},
               {ck::k_key_type, V::integer(ck::k_k_aes)},
               {ck::k_value, V::data({})},
               {ck::k_trusted, V::boolean(false)},
               {ck::k_encrypt, V::boolean(sign)},
               {ck::k_decrypt, V::boolean(decrypt)},
               {ck::k_wrap, V::boolean(false)},
               {ck::k_unwrap, V::boolean(false)},
               {ck::k_sign, V::boolean(false)},
               {ck::k_verify, V::boolean(false)},
               {ck::k_value_len, V::integer(pub.parameters.symDetail.sym.keyBits.aes / 8U)},
               {ck::k_key_gen_mechanism, V::integer(ck::k_m_aes_key_gen)},
               {ck::k_wrap_template, V::list({})},
               {ck::k_unwrap_template, V::data({})},
               {ck::k_allowed_mechanisms, V::list(aes_mechanisms(algs))},
             });
    return {secret};
  }
  case TPM2_ALG_KEYEDHASH: {
    const auto& scheme = pub.parameters.keyedHashDetail.scheme;
    if (scheme.scheme != TPM2_ALG_HMAC) {
      throw Error(ExitCode::k_unsupported, "Cannot map scheme to allowed mechanism");
    }
    HmacInfo h = hmac_info(scheme.details.hmac.hashAlg);
    common.erase(ck::k_subject);
    AttrMap secret = merged(merged(common, secret_part),
                            {
                              {ck::k_class, V::integer(ck::k_o_secret_key)},
                              {ck::k_key_type, V::integer(h.key_type)},
                              {ck::k_value, V::data({})},
                              {ck::k_trusted, V::boolean(false)},
                              {ck::k_encrypt, V::boolean(false)},
                              {ck::k_decrypt, V::boolean(false)},
                              {ck::k_wrap, V::boolean(false)},
                              {ck::k_unwrap, V::boolean(false)},
                              {ck::k_sign, V::boolean(sign)},
                              {ck::k_verify, V::boolean(true)},
                              {ck::k_value_len, V::integer(h.len)},
                              {ck::k_key_gen_mechanism, V::integer(ck::k_m_generic_secret_key_gen)},
                              {ck::k_wrap_template, V::list({})},
                              {ck::k_unwrap_template, V::data({})},
                              {ck::k_allowed_mechanisms, V::list({h.mechanism})},
                            });
    return {secret};
  }
  default:
    throw Error(ExitCode::k_unsupported, "the TPM key type cannot be stored as a PKCS#11 object");
  }

  AttrMap priv = merged(merged(merged(common, secret_part), key_specific),
                        {
                          {ck::k_class, V::integer(ck::k_o_private_key)},
                          {ck::k_key_type, V::integer(key_type)},
                          {ck::k_decrypt, V::boolean(decrypt)},
                          {ck::k_unwrap, V::boolean(false)},
                          {ck::k_sign, V::boolean(sign)},
                          {ck::k_sign_recover, V::boolean(false)},
                          {ck::k_public_key_info, V::data({})},
                          {ck::k_key_gen_mechanism, V::integer(keygen)},
                          {ck::k_unwrap_template, V::list({})},
                          {ck::k_allowed_mechanisms, V::list(mechs)},
                        });
  AttrMap pubobj =
    merged(merged(common, key_specific), {
                                           {ck::k_class, V::integer(ck::k_o_public_key)},
                                           {ck::k_private, V::boolean(false)},
                                           {ck::k_trusted, V::boolean(false)},
                                           {ck::k_key_type, V::integer(key_type)},
                                           {ck::k_encrypt, V::boolean(sign)},
                                           {ck::k_wrap, V::boolean(false)},
                                           {ck::k_verify, V::boolean(decrypt)},
                                           {ck::k_verify_recover, V::boolean(false)},
                                           {ck::k_public_key_info, V::data({})},
                                           {ck::k_key_gen_mechanism, V::integer(keygen)},
                                           {ck::k_wrap_template, V::data({})},
                                           {ck::k_allowed_mechanisms, V::list(mechs)},
                                         });
  return {priv, pubobj};
}

std::optional<uint64_t>
attr_int(const AttrMap& attrs, uint64_t type)
{
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.kind != AttrValue::Kind::k_int) {
    return std::nullopt;
  }
  return it->second.num;
}

const Bytes*
attr_bytes(const AttrMap& attrs, uint64_t type)
{
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.kind != AttrValue::Kind::k_bytes) {
    return nullptr;
  }
  return &it->second.bytes;
}

std::optional<bool>
attr_bool(const AttrMap& attrs, uint64_t type)
{
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.kind != AttrValue::Kind::k_bool) {
    return std::nullopt;
  }
  return it->second.flag;
}

TPM2_ALG_ID
hmac_import_hash(std::string_view alg)
{
  if (alg == "hmac") {
    return TPM2_ALG_NULL;
  }
  static const std::pair<const char*, TPM2_ALG_ID> k_hashes[] = {{"hmac:sha1", TPM2_ALG_SHA1},
                                                                 {"hmac:sha256", TPM2_ALG_SHA256},
                                                                 {"hmac:sha384", TPM2_ALG_SHA384},
                                                                 {"hmac:sha512", TPM2_ALG_SHA512}};
  for (const auto& [name, hash] : k_hashes) {
    if (alg == name) {
      return hash;
    }
  }
  throw_usage("unknown --algorithm '" + std::string(alg) + "'",
              "choose rsa, ecc, hmac or hmac:sha1|sha256|sha384|sha512");
}

// key_objects knows only HMAC-scheme keys, so derive the attributes from an HMAC-SHA256
// view of the key, then put back what differs.
std::vector<AttrMap>
generic_secret_objects(keys::KeyObjectInput in, const tpm::AlgorithmSet& algs, size_t key_len)
{
  TPM2B_PUBLIC real = in.pub;
  in.pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  in.pub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  std::vector<AttrMap> objects = keys::key_objects(in, algs);
  AttrMap& a = objects.at(0);
  a[ck::k_key_type] = V::integer(ck::k_k_generic_secret);
  a[ck::k_value_len] = V::integer(key_len);
  a[ck::k_decrypt] = V::boolean(true);
  std::vector<uint64_t> mechs;
  for (auto [hash, mech] : {std::pair{TPM2_ALG_SHA1, ck::k_m_sha_1_hmac},
                            std::pair{TPM2_ALG_SHA256, ck::k_m_sha256_hmac},
                            std::pair{TPM2_ALG_SHA384, ck::k_m_sha384_hmac},
                            std::pair{TPM2_ALG_SHA512, ck::k_m_sha512_hmac}}) {
    if (algs.has(hash)) {
      mechs.push_back(mech);
    }
  }
  a[ck::k_allowed_mechanisms] = V::list(mechs);
  a[ck::k_tpm2_pub_blob] = V::data(tpm::marshal_public(real));
  return objects;
}

} // namespace ptool::keys
