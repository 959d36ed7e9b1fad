// SPDX-License-Identifier: BSD-2-Clause
// CKA_EC_POINT forms and OpenSSL public keys from store attributes.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "key_helpers.hpp"

namespace ptool::keys {
namespace {

using V = AttrValue;

Bytes
concat(Bytes a, const Bytes& b)
{
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(EcPoint, AllStoredForms)
{
  for (const char* name : {"P-256", "P-384", "P-521"}) {
    SCOPED_TRACE(name);
    EvpPkey key = test::generate_ec(name);
    Bytes point = test::ec_point(key.get());
    ASSERT_EQ(point[0], 0x04);
    ASSERT_EQ(point.size() % 2, 1u);
    if (point.size() < 0x80) {
      EXPECT_EQ(ec_point_from_attr(concat({0x04, static_cast<uint8_t>(point.size())}, point)),
                point); // short-form DER
    } else {
      EXPECT_EQ(ec_point_from_attr(concat({0x04, 0x81, static_cast<uint8_t>(point.size())}, point)),
                point); // long-form DER
    }
    EXPECT_EQ(ec_point_from_attr(point), point); // bare point
  }
  // P-521 specifically: correct DER 04 81 85 and upstream's invalid 04 85.
  EvpPkey p521 = test::generate_ec("P-521");
  Bytes point = test::ec_point(p521.get());
  ASSERT_EQ(point.size(), 133u);
  EXPECT_EQ(ec_point_from_attr(concat({0x04, 0x81, 0x85}, point)), point);
  EXPECT_EQ(ec_point_from_attr(concat({0x04, 0x85}, point)), point);
  // A bare P-256 point whose X happens to start 3f 04 also reads as "04, length 63, 04 …":
  // only the bare reading gives a point of a real size.
  Bytes tricky(65, 0x5a);
  tricky[0] = 0x04;
  tricky[1] = 0x3f;
  tricky[2] = 0x04;
  EXPECT_EQ(ec_point_from_attr(tricky), tricky);
}

TEST(EcPoint, RejectsMalformedAttributes)
{
  EvpPkey key = test::generate_ec("P-256");
  Bytes point = test::ec_point(key.get());
  EXPECT_FALSE(ec_point_from_attr({}));
  EXPECT_FALSE(ec_point_from_attr({0x04}));
  EXPECT_FALSE(ec_point_from_attr({0x03, 0x41}));
  Bytes wrong_len = concat({0x04, 0x40}, point); // length says 64, 65 follow
  EXPECT_FALSE(ec_point_from_attr(wrong_len));
  Bytes compressed(33, 0x11);
  compressed[0] = 0x02;
  EXPECT_FALSE(ec_point_from_attr(concat({0x04, 0x21}, compressed)));
  Bytes truncated = concat({0x04, 0x81, 0x85}, Bytes(point.begin(), point.end() - 1));
  EXPECT_FALSE(ec_point_from_attr(truncated));
}

TEST(OpensslKey, PublicKeysFromAttributes)
{
  EvpPkey rsa = test::generate_rsa(2048);
  AttrMap ra = {{ck::k_key_type, V::integer(ck::k_k_rsa)},
                {ck::k_modulus, V::data(test::bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_N))},
                {ck::k_public_exponent, V::data({1, 0, 1})}};
  auto rk = public_key_from_attrs(ra);
  ASSERT_TRUE(rk);
  EXPECT_EQ(EVP_PKEY_eq(rk->get(), rsa.get()), 1);
  std::string pem = public_key_pem(rk->get());
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);

  for (unsigned bits : {224u, 256u, 384u, 521u}) {
    SCOPED_TRACE(bits);
    auto curve = curve_by_bits(bits);
    ASSERT_TRUE(curve);
    EXPECT_EQ(curve_by_params(curve->der_oid)->field_bytes, curve->field_bytes);
    EvpPkey ec = test::generate_ec(curve->openssl_name);
    Bytes point = test::ec_point(ec.get());
    Bytes der = point.size() < 0x80
                  ? concat({0x04, static_cast<uint8_t>(point.size())}, point)
                  : concat({0x04, 0x81, static_cast<uint8_t>(point.size())}, point);
    AttrMap ea = {{ck::k_key_type, V::integer(ck::k_k_ec)},
                  {ck::k_ec_params, V::data(curve->der_oid)},
                  {ck::k_ec_point, V::data(der)}};
    auto ek = public_key_from_attrs(ea);
    ASSERT_TRUE(ek);
    EXPECT_EQ(EVP_PKEY_eq(ek->get(), ec.get()), 1);
  }
  EXPECT_FALSE(curve_by_bits(192));
  EXPECT_FALSE(curve_by_params({0x06, 0x03, 0x2b, 0x65, 0x70})); // Ed25519

  // Not a key, or missing parts: nullopt. A point that is not on the curve: Error.
  EXPECT_FALSE(public_key_from_attrs({{ck::k_key_type, V::integer(ck::k_k_aes)}}));
  EXPECT_FALSE(public_key_from_attrs({{ck::k_key_type, V::integer(ck::k_k_rsa)}}));
  Bytes off_curve(65, 0x01);
  off_curve[0] = 0x04;
  AttrMap bad = {{ck::k_key_type, V::integer(ck::k_k_ec)},
                 {ck::k_ec_params, V::data(curve_by_bits(256)->der_oid)},
                 {ck::k_ec_point, V::data(off_curve)}};
  EXPECT_THROW(public_key_from_attrs(bad), Error);
}

// Upstream 1.9.0 writes CKA_EC_POINT from the TPM's coordinates without padding them, so a
// P-256 key whose X or Y starts with a zero byte gets a short point (1 key in 128).
TEST(EcPoint, RepairsUpstreamsUnpaddedCoordinates)
{
  auto curve = curve_by_bits(256);
  ASSERT_TRUE(curve);
  for (int side = 0; side < 2; ++side) {
    SCOPED_TRACE(side == 0 ? "X" : "Y");
    // OpenSSL keys until one has a leading zero byte in the coordinate under test.
    Bytes point;
    for (int i = 0; i < 20000 && point.empty(); ++i) {
      Bytes p = test::ec_point(test::generate_ec("P-256").get());
      if (p[1 + side * 32] == 0 && p[1 + (1 - side) * 32] != 0) {
        point = p;
      }
    }
    ASSERT_FALSE(point.empty());
    Bytes shortened(point);
    shortened.erase(shortened.begin() + 1 + side * 32);
    Bytes attr = concat({0x04, static_cast<uint8_t>(shortened.size())}, shortened);
    EXPECT_FALSE(ec_point_from_attr(attr)); // not a valid point as it stands
    EXPECT_EQ(ec_point_for_curve(attr, *curve), point);
    AttrMap a = {{ck::k_key_type, V::integer(ck::k_k_ec)},
                 {ck::k_ec_params, V::data(curve->der_oid)},
                 {ck::k_ec_point, V::data(attr)}};
    EXPECT_TRUE(public_key_from_attrs(a));
    // The module serves the repaired DER form, once.
    EXPECT_TRUE(repair_ec_point(a));
    EXPECT_EQ(a.at(ck::k_ec_point).bytes, concat({0x04, 65}, point));
    EXPECT_FALSE(repair_ec_point(a));
  }
  // Well-formed points pass through; a point that is short but off the curve does not.
  Bytes good = test::ec_point(test::generate_ec("P-256").get());
  EXPECT_EQ(ec_point_for_curve(concat({0x04, 65}, good), *curve), good);
  Bytes junk(64, 0x5a);
  junk[0] = 0x04;
  EXPECT_FALSE(ec_point_for_curve(concat({0x04, 64}, junk), *curve));
}

} // namespace
} // namespace ptool::keys
