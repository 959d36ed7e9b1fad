// SPDX-License-Identifier: BSD-2-Clause
// PKCS#11 attribute sets of TPM keys (docs/store-format.md §5.3, §5.4), against hand-built
// TPM2B_PUBLIC structures and the rows upstream tpm2_ptool 1.9.0 wrote in tests/data.
#include <set>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/templates.hpp"
#include "store/attr_yaml.hpp"
#include "unit_helpers.hpp"

namespace ptool::keys {
namespace {

using V = AttrValue;

const tpm::AlgorithmSet k_all_algs{{TPM2_ALG_RSA, TPM2_ALG_ECC, TPM2_ALG_SHA1, TPM2_ALG_SHA256,
                                    TPM2_ALG_SHA384, TPM2_ALG_SHA512, TPM2_ALG_RSAPSS, TPM2_ALG_CBC,
                                    TPM2_ALG_CFB, TPM2_ALG_ECB, TPM2_ALG_OFB, TPM2_ALG_CTR}};

AttrMap
sample_row(int id)
{
  return store::parse_attrs(
    test::upstream_sample_output("SELECT attrs FROM tobjects WHERE id = " + std::to_string(id)));
}

KeyObjectInput
input_for(const std::string& alg_name)
{
  auto alg = tpm::parse_algorithm(alg_name);
  EXPECT_TRUE(alg);
  KeyObjectInput in;
  in.pub = tpm::key_template(*alg);
  TPMT_PUBLIC& p = in.pub.publicArea;
  // What the TPM fills in: the unique field.
  if (alg->kind == tpm::KeyKind::k_rsa) {
    p.unique.rsa.size = static_cast<UINT16>(alg->bits / 8);
    for (UINT16 i = 0; i < p.unique.rsa.size; ++i) {
      p.unique.rsa.buffer[i] = static_cast<BYTE>(0x80 | i);
    }
  } else if (alg->kind == tpm::KeyKind::k_ecc) {
    UINT16 n = static_cast<UINT16>((alg->bits + 7) / 8);
    p.unique.ecc.x.size = n;
    p.unique.ecc.y.size = n;
    for (UINT16 i = 0; i < n; ++i) {
      p.unique.ecc.x.buffer[i] = static_cast<BYTE>(i + 1);
      p.unique.ecc.y.buffer[i] = static_cast<BYTE>(0xff - i);
    }
  } else {
    p.unique.sym.size = 32;
  }
  in.priv.size = 3;
  in.priv.buffer[0] = 0xaa;
  in.id = to_bytes("a1b2c3d4e5f60708");
  in.label = "my-key";
  in.wrapped_auth = "00:11:22";
  return in;
}

std::set<uint64_t>
keys_of(const AttrMap& a)
{
  std::set<uint64_t> out;
  for (const auto& kv : a) {
    out.insert(kv.first);
  }
  return out;
}

const std::set<uint64_t> k_rsa_private = {ck::k_class,
                                          ck::k_token,
                                          ck::k_private,
                                          ck::k_label,
                                          ck::k_key_type,
                                          ck::k_subject,
                                          ck::k_id,
                                          ck::k_sensitive,
                                          ck::k_decrypt,
                                          ck::k_unwrap,
                                          ck::k_sign,
                                          ck::k_sign_recover,
                                          ck::k_derive,
                                          ck::k_start_date,
                                          ck::k_end_date,
                                          ck::k_modulus,
                                          ck::k_modulus_bits,
                                          ck::k_public_exponent,
                                          ck::k_public_key_info,
                                          ck::k_extractable,
                                          ck::k_local,
                                          ck::k_never_extractable,
                                          ck::k_always_sensitive,
                                          ck::k_key_gen_mechanism,
                                          ck::k_modifiable,
                                          ck::k_copyable,
                                          ck::k_destroyable,
                                          ck::k_always_authenticate,
                                          ck::k_wrap_with_trusted,
                                          ck::k_unwrap_template,
                                          ck::k_allowed_mechanisms,
                                          ck::k_tpm2_objauth_enc,
                                          ck::k_tpm2_pub_blob,
                                          ck::k_tpm2_priv_blob};
const std::set<uint64_t> k_rsa_public = {ck::k_class,
                                         ck::k_token,
                                         ck::k_private,
                                         ck::k_label,
                                         ck::k_trusted,
                                         ck::k_key_type,
                                         ck::k_subject,
                                         ck::k_id,
                                         ck::k_encrypt,
                                         ck::k_wrap,
                                         ck::k_verify,
                                         ck::k_verify_recover,
                                         ck::k_derive,
                                         ck::k_start_date,
                                         ck::k_end_date,
                                         ck::k_modulus,
                                         ck::k_modulus_bits,
                                         ck::k_public_exponent,
                                         ck::k_public_key_info,
                                         ck::k_local,
                                         ck::k_key_gen_mechanism,
                                         ck::k_modifiable,
                                         ck::k_copyable,
                                         ck::k_destroyable,
                                         ck::k_wrap_template,
                                         ck::k_allowed_mechanisms,
                                         ck::k_tpm2_pub_blob};

std::set<uint64_t>
as_ec(std::set<uint64_t> s)
{
  s.erase(ck::k_modulus);
  s.erase(ck::k_modulus_bits);
  s.erase(ck::k_public_exponent);
  s.insert(ck::k_ec_params);
  s.insert(ck::k_ec_point);
  return s;
}

TEST(KeyAttributes, RsaObjects)
{
  KeyObjectInput in = input_for("rsa2048");
  std::vector<AttrMap> objs = key_objects(in, k_all_algs);
  ASSERT_EQ(objs.size(), 2u);
  const AttrMap& priv = objs[0];
  const AttrMap& pub = objs[1];
  EXPECT_EQ(priv.size(), 34u);
  EXPECT_EQ(pub.size(), 27u);
  EXPECT_EQ(keys_of(priv), k_rsa_private);
  EXPECT_EQ(keys_of(pub), k_rsa_public);

  Bytes n(in.pub.publicArea.unique.rsa.buffer, in.pub.publicArea.unique.rsa.buffer + 256);
  for (const AttrMap* a : {&priv, &pub}) {
    EXPECT_EQ(a->at(ck::k_id), V::data(to_bytes("a1b2c3d4e5f60708")));
    EXPECT_EQ(a->at(ck::k_label), V::data(to_bytes("my-key")));
    EXPECT_EQ(a->at(ck::k_key_type), V::integer(ck::k_k_rsa));
    EXPECT_EQ(a->at(ck::k_modulus), V::data(n));
    EXPECT_EQ(a->at(ck::k_modulus_bits), V::integer(2048));
    EXPECT_EQ(a->at(ck::k_public_exponent), V::data({0x01, 0x00, 0x01}));
    EXPECT_EQ(a->at(ck::k_key_gen_mechanism), V::integer(ck::k_m_rsa_pkcs_key_pair_gen));
    EXPECT_EQ(a->at(ck::k_local), V::boolean(true));
    EXPECT_EQ(a->at(ck::k_token), V::boolean(true));
    EXPECT_EQ(a->at(ck::k_tpm2_pub_blob), V::data(tpm::marshal_public(in.pub)));
    EXPECT_EQ(a->at(ck::k_allowed_mechanisms),
              V::list({3, 9, 1, 6, 0x40, 0x41, 0x42, 0xd, 0xe, 0x43, 0x44, 0x45}));
  }
  EXPECT_EQ(priv.at(ck::k_class), V::integer(ck::k_o_private_key));
  EXPECT_EQ(priv.at(ck::k_private), V::boolean(true));
  EXPECT_EQ(priv.at(ck::k_sign), V::boolean(true));
  EXPECT_EQ(priv.at(ck::k_decrypt), V::boolean(true));
  EXPECT_EQ(priv.at(ck::k_extractable), V::boolean(false));
  EXPECT_EQ(priv.at(ck::k_never_extractable), V::boolean(true));
  EXPECT_EQ(priv.at(ck::k_always_sensitive), V::boolean(true));
  EXPECT_EQ(priv.at(ck::k_always_authenticate), V::boolean(false));
  EXPECT_EQ(priv.at(ck::k_unwrap_template), V::list({}));
  EXPECT_EQ(priv.at(ck::k_tpm2_objauth_enc), V::data(to_bytes("00:11:22")));
  EXPECT_EQ(priv.at(ck::k_tpm2_priv_blob), V::data({0x00, 0x03, 0xaa, 0x00, 0x00}));
  EXPECT_EQ(pub.at(ck::k_class), V::integer(ck::k_o_public_key));
  EXPECT_EQ(pub.at(ck::k_private), V::boolean(false));
  EXPECT_EQ(pub.at(ck::k_encrypt), V::boolean(true));
  EXPECT_EQ(pub.at(ck::k_verify), V::boolean(true));
  EXPECT_EQ(pub.at(ck::k_wrap_template), V::data({}));

  // Exponent other than 0 is written as minimal big-endian bytes.
  in.pub.publicArea.parameters.rsaDetail.exponent = 3;
  EXPECT_EQ(key_objects(in, k_all_algs)[1].at(ck::k_public_exponent), V::data({0x03}));
}

TEST(KeyAttributes, RsaMechanismsFollowTheAlgorithmSet)
{
  KeyObjectInput in = input_for("rsa3072");
  auto mechs = [&](std::vector<TPM2_ALG_ID> algs) {
    auto objs = key_objects(in, tpm::AlgorithmSet{std::move(algs)});
    EXPECT_EQ(objs[0].at(ck::k_allowed_mechanisms), objs[1].at(ck::k_allowed_mechanisms));
    return objs[0].at(ck::k_allowed_mechanisms).seq;
  };
  const std::vector<uint64_t> base = {3, 9, 1, 6, 0x40, 0x41, 0x42};
  EXPECT_EQ(mechs({TPM2_ALG_SHA256}), base);
  EXPECT_EQ(mechs({TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512}), base);
  auto with = [&](std::vector<uint64_t> extra) {
    std::vector<uint64_t> m = base;
    m.insert(m.end(), extra.begin(), extra.end());
    return m;
  };
  EXPECT_EQ(mechs({TPM2_ALG_RSAPSS}), with({0xd, 0xe, 0x43}));
  EXPECT_EQ(mechs({TPM2_ALG_RSAPSS, TPM2_ALG_SHA384}), with({0xd, 0xe, 0x43, 0x44}));
  EXPECT_EQ(mechs({TPM2_ALG_RSAPSS, TPM2_ALG_SHA512}), with({0xd, 0xe, 0x43, 0x45}));
  EXPECT_EQ(mechs({TPM2_ALG_SHA512, TPM2_ALG_RSAPSS, TPM2_ALG_SHA384}),
            with({0xd, 0xe, 0x43, 0x44, 0x45}));
}

TEST(KeyAttributes, EcObjects)
{
  const struct
  {
    const char* alg;
    Bytes oid;
  } cases[] = {
    {"ecc224", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21}},
    {"ecc256", {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
    {"ecc384", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}},
    {"ecc521", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.alg);
    KeyObjectInput in = input_for(c.alg);
    std::vector<AttrMap> objs = key_objects(in, k_all_algs);
    ASSERT_EQ(objs.size(), 2u);
    EXPECT_EQ(objs[0].size(), 33u);
    EXPECT_EQ(objs[1].size(), 26u);
    EXPECT_EQ(keys_of(objs[0]), as_ec(k_rsa_private));
    EXPECT_EQ(keys_of(objs[1]), as_ec(k_rsa_public));
    const auto& q = in.pub.publicArea.unique.ecc;
    Bytes point = {0x04};
    point.insert(point.end(), q.x.buffer, q.x.buffer + q.x.size);
    point.insert(point.end(), q.y.buffer, q.y.buffer + q.y.size);
    Bytes der = {0x04};
    if (point.size() > 127) {
      der.push_back(0x81);
    }
    der.push_back(static_cast<uint8_t>(point.size()));
    der.insert(der.end(), point.begin(), point.end());
    for (const AttrMap& a : objs) {
      EXPECT_EQ(a.at(ck::k_key_type), V::integer(ck::k_k_ec));
      EXPECT_EQ(a.at(ck::k_key_gen_mechanism), V::integer(4160));
      EXPECT_EQ(a.at(ck::k_ec_params), V::data(c.oid));
      EXPECT_EQ(a.at(ck::k_ec_point), V::data(der));
      EXPECT_EQ(a.at(ck::k_allowed_mechanisms), V::list({0x1041, 0x1042, 0x1044, 0x1045, 0x1046}));
    }
    if (std::string_view(c.alg) == "ecc521") {
      EXPECT_EQ(to_hex(std::span(der).first(4)), "04818504");
      EXPECT_EQ(der.size(), 3u + 133);
    }
  }
}

TEST(KeyAttributes, EcMechanismsAndShortCoordinates)
{
  KeyObjectInput in = input_for("ecc256");
  auto mechs = [&](std::vector<TPM2_ALG_ID> algs) {
    return key_objects(in, tpm::AlgorithmSet{std::move(algs)})[0].at(ck::k_allowed_mechanisms).seq;
  };
  EXPECT_EQ(mechs({TPM2_ALG_SHA256}), (std::vector<uint64_t>{0x1041, 0x1042, 0x1044}));
  EXPECT_EQ(mechs({TPM2_ALG_SHA384}), (std::vector<uint64_t>{0x1041, 0x1042, 0x1044, 0x1045}));
  EXPECT_EQ(mechs({TPM2_ALG_SHA512}), (std::vector<uint64_t>{0x1041, 0x1042, 0x1044, 0x1046}));

  // A coordinate the TPM returns without its leading zero byte is padded to the field size.
  auto& x = in.pub.publicArea.unique.ecc.x;
  x.size = 31;
  auto objs = key_objects(in, k_all_algs);
  const Bytes& der = objs[1].at(ck::k_ec_point).bytes;
  ASSERT_EQ(der.size(), 2u + 65);
  EXPECT_EQ(der[1], 0x41);
  EXPECT_EQ(der[3], 0x00);
  EXPECT_EQ(der[4], 0x01);
}

TEST(KeyAttributes, AesAndHmacObjects)
{
  for (const char* alg : {"aes128", "aes256"}) {
    SCOPED_TRACE(alg);
    KeyObjectInput in = input_for(alg);
    in.always_authenticate = true;
    std::vector<AttrMap> objs = key_objects(in, k_all_algs);
    ASSERT_EQ(objs.size(), 1u);
    const AttrMap& a = objs[0];
    EXPECT_EQ(a.size(), 35u);
    EXPECT_EQ(a.count(ck::k_subject), 0u);
    EXPECT_EQ(a.at(ck::k_class), V::integer(ck::k_o_secret_key));
    EXPECT_EQ(a.at(ck::k_key_type), V::integer(ck::k_k_aes));
    EXPECT_EQ(a.at(ck::k_value_len), V::integer(std::string_view(alg) == "aes128" ? 16 : 32));
    EXPECT_EQ(a.at(ck::k_key_gen_mechanism), V::integer(4224));
    EXPECT_EQ(a.at(ck::k_encrypt), V::boolean(true));
    EXPECT_EQ(a.at(ck::k_decrypt), V::boolean(true));
    EXPECT_EQ(a.at(ck::k_sign), V::boolean(false));
    EXPECT_EQ(a.at(ck::k_verify), V::boolean(false));
    EXPECT_EQ(a.at(ck::k_value), V::data({}));
    EXPECT_EQ(a.at(ck::k_wrap_template), V::list({}));
    EXPECT_EQ(a.at(ck::k_unwrap_template), V::data({}));
    EXPECT_EQ(a.at(ck::k_always_authenticate), V::boolean(true));
    EXPECT_EQ(a.at(ck::k_allowed_mechanisms),
              V::list({0x1082, 0x1085, 0x2107, 0x1081, 0x2104, 0x1086}));
    EXPECT_EQ(key_objects(in, tpm::AlgorithmSet{{TPM2_ALG_CFB, TPM2_ALG_CTR}})[0].at(
                ck::k_allowed_mechanisms),
              V::list({0x2107, 0x1086}));
    try {
      key_objects(in, tpm::AlgorithmSet{{TPM2_ALG_SHA256}});
      ADD_FAILURE() << "AES key without any usable mode accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::k_unsupported);
    }
  }
  const struct
  {
    const char* alg;
    uint64_t key_type, mech, len;
  } hmacs[] = {{"hmac:sha1", 0x28, 0x221, 20},
               {"hmac:sha256", 0x2b, 0x251, 32},
               {"hmac:sha384", 0x2c, 0x261, 48},
               {"hmac:sha512", 0x2d, 0x271, 64}};
  for (const auto& h : hmacs) {
    SCOPED_TRACE(h.alg);
    std::vector<AttrMap> objs = key_objects(input_for(h.alg), k_all_algs);
    ASSERT_EQ(objs.size(), 1u);
    const AttrMap& a = objs[0];
    EXPECT_EQ(a.size(), 35u);
    EXPECT_EQ(a.at(ck::k_key_type), V::integer(h.key_type));
    EXPECT_EQ(a.at(ck::k_value_len), V::integer(h.len));
    EXPECT_EQ(a.at(ck::k_key_gen_mechanism), V::integer(848));
    EXPECT_EQ(a.at(ck::k_allowed_mechanisms), V::list({h.mech}));
    EXPECT_EQ(a.at(ck::k_sign), V::boolean(true));
    EXPECT_EQ(a.at(ck::k_verify), V::boolean(true));
    EXPECT_EQ(a.at(ck::k_encrypt), V::boolean(false));
    EXPECT_EQ(a.at(ck::k_decrypt), V::boolean(false));
  }
}

TEST(KeyAttributes, ImportedKeysAreExtractableAndNotLocal)
{
  KeyObjectInput in = input_for("rsa2048");
  // tpm2_import: no fixedTPM/fixedParent/sensitiveDataOrigin
  in.pub.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_DECRYPT;
  auto objs = key_objects(in, k_all_algs);
  EXPECT_EQ(objs[0].at(ck::k_extractable), V::boolean(true));
  EXPECT_EQ(objs[0].at(ck::k_never_extractable), V::boolean(false));
  EXPECT_EQ(objs[0].at(ck::k_always_sensitive), V::boolean(false));
  EXPECT_EQ(objs[0].at(ck::k_local), V::boolean(false));
  EXPECT_EQ(objs[0].at(ck::k_sign), V::boolean(false));
  EXPECT_EQ(objs[0].at(ck::k_decrypt), V::boolean(true));
  EXPECT_EQ(objs[1].at(ck::k_encrypt), V::boolean(false));
  EXPECT_EQ(objs[1].at(ck::k_verify), V::boolean(true));
  EXPECT_EQ(objs[1].at(ck::k_local), V::boolean(false));
}

TEST(KeyAttributes, RejectsSchemesAndUnknownTypes)
{
  auto expect_unsupported = [](const KeyObjectInput& in) {
    try {
      key_objects(in, k_all_algs);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::k_unsupported);
    }
  };
  KeyObjectInput rsa = input_for("rsa2048");
  rsa.pub.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  expect_unsupported(rsa);
  KeyObjectInput ecc = input_for("ecc256");
  ecc.pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  expect_unsupported(ecc);
  ecc = input_for("ecc256");
  ecc.pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
  expect_unsupported(ecc);
  KeyObjectInput hmac = input_for("hmac:sha256");
  hmac.pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_XOR;
  expect_unsupported(hmac);
  hmac = input_for("hmac:sha256");
  hmac.pub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SM3_256;
  expect_unsupported(hmac);
  KeyObjectInput other = input_for("rsa2048");
  other.pub.publicArea.type = TPM2_ALG_NULL;
  expect_unsupported(other);
}

// The real thing: feed upstream's blobs back through key_objects and compare with what
// upstream wrote for them.
TEST(KeyAttributes, ReproducesUpstreamRows)
{
  AttrMap up_priv = sample_row(1);
  AttrMap up_pub = sample_row(2);
  KeyObjectInput in;
  in.pub = tpm::unmarshal_public(up_priv.at(ck::k_tpm2_pub_blob).bytes);
  in.priv = tpm::unmarshal_private(up_priv.at(ck::k_tpm2_priv_blob).bytes);
  in.id = up_priv.at(ck::k_id).bytes;
  in.label = to_string(up_priv.at(ck::k_label).bytes);
  in.wrapped_auth = to_string(up_priv.at(ck::k_tpm2_objauth_enc).bytes);
  std::vector<AttrMap> ec = key_objects(in, k_all_algs);
  ASSERT_EQ(ec.size(), 2u);
  EXPECT_EQ(ec[0], up_priv);
  EXPECT_EQ(ec[1], up_pub);

  AttrMap up_rsa_pub = sample_row(4);
  KeyObjectInput rin;
  rin.pub = tpm::unmarshal_public(up_rsa_pub.at(ck::k_tpm2_pub_blob).bytes);
  rin.id = up_rsa_pub.at(ck::k_id).bytes;
  rin.label = to_string(up_rsa_pub.at(ck::k_label).bytes);
  std::vector<AttrMap> rsa = key_objects(rin, k_all_algs);
  ASSERT_EQ(rsa.size(), 2u);
  // Deliberate divergence: CKM_SHA1_RSA_PKCS (6) after CKM_RSA_PKCS, as 1.9.2 does.
  std::vector<uint64_t> mechs = up_rsa_pub.at(ck::k_allowed_mechanisms).seq;
  mechs.insert(mechs.begin() + 3, ck::k_m_sha1_rsa_pkcs);
  up_rsa_pub[ck::k_allowed_mechanisms] = V::list(mechs);
  EXPECT_EQ(rsa[1], up_rsa_pub);
}

TEST(KeyAttributes, Accessors)
{
  AttrMap a = {{1, V::integer(5)}, {2, V::boolean(true)}, {3, V::data({9})}};
  EXPECT_EQ(attr_int(a, 1), 5u);
  EXPECT_FALSE(attr_int(a, 2));
  EXPECT_FALSE(attr_int(a, 4));
  EXPECT_EQ(attr_bool(a, 2), true);
  EXPECT_FALSE(attr_bool(a, 1));
  ASSERT_NE(attr_bytes(a, 3), nullptr);
  EXPECT_EQ(*attr_bytes(a, 3), Bytes{9});
  EXPECT_EQ(attr_bytes(a, 1), nullptr);
}

} // namespace
} // namespace ptool::keys
