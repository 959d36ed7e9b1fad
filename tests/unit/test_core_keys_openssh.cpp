// SPDX-License-Identifier: BSD-2-Clause
// OpenSSH public-key lines from store attributes, against ssh-keygen and upstream's output.
#include <gtest/gtest.h>

#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "key_helpers.hpp"
#include "store/attr_yaml.hpp"
#include "unit_helpers.hpp"

namespace ptool::keys {
namespace {

using V = AttrValue;

AttrMap
rsa_attrs(const Bytes& n, const Bytes& e, std::string_view label)
{
  return {{ck::k_class, V::integer(ck::k_o_public_key)},
          {ck::k_key_type, V::integer(ck::k_k_rsa)},
          {ck::k_label, V::data(to_bytes(label))},
          {ck::k_modulus, V::data(n)},
          {ck::k_public_exponent, V::data(e)}};
}

AttrMap
ec_attrs(const Curve& c, const Bytes& point_attr, std::string_view label)
{
  return {{ck::k_class, V::integer(ck::k_o_public_key)},
          {ck::k_key_type, V::integer(ck::k_k_ec)},
          {ck::k_label, V::data(to_bytes(label))},
          {ck::k_ec_params, V::data(c.der_oid)},
          {ck::k_ec_point, V::data(point_attr)}};
}

Bytes
der_octet_string(const Bytes& point)
{
  Bytes der = {0x04};
  if (point.size() >= 0x80) {
    der.push_back(0x81);
  }
  der.push_back(static_cast<uint8_t>(point.size()));
  der.insert(der.end(), point.begin(), point.end());
  return der;
}

// Upstream's ssh-keygen -D output for the sample store's keys (tests/data).
TEST(OpenSsh, MatchesUpstreamSampleLines)
{
  std::string ssh = test::upstream_sample_output("ssh-keygen -D");
  auto line = [&](size_t i) {
    size_t pos = 0;
    for (size_t k = 0; k < i; ++k) {
      pos = ssh.find('\n', pos) + 1;
    }
    return ssh.substr(pos, ssh.find('\n', pos) - pos);
  };
  std::string tobj = "SELECT attrs FROM tobjects WHERE ";
  auto attrs = [&](const char* id) {
    std::string out = test::upstream_sample_output(tobj + id);
    return store::parse_attrs(out);
  };
  EXPECT_EQ(openssh_public_line(attrs("id = 2")), line(0)); // ecc256 public, label k1
  EXPECT_EQ(openssh_public_line(attrs("id = 1")), line(0)); // its private object: same key
  EXPECT_EQ(openssh_public_line(attrs("id = 4")), line(1)); // rsa2048 public, label k2
}

TEST(OpenSsh, RsaMatchesSshKeygen)
{
  if (!test::have_ssh_keygen()) {
    FAIL() << "ssh-keygen not installed (scripts/install-deps installs openssh-client)";
  }
  test::TempDir dir;
  for (unsigned bits : {1024u, 2048u, 3072u}) {
    SCOPED_TRACE(bits);
    EvpPkey key = test::generate_rsa(bits);
    ASSERT_TRUE(key);
    Bytes n = test::bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N);
    Bytes e = test::bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E);
    ASSERT_EQ(n.size(), bits / 8);
    ASSERT_TRUE(n[0] & 0x80); // the mpint needs its 0x00 pad
    EXPECT_EQ(e, (Bytes{1, 0, 1}));
    std::string expected = test::ssh_keygen_public(key.get(), dir.path());
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(openssh_public_line(rsa_attrs(n, e, "")), expected);
    EXPECT_EQ(openssh_public_line(rsa_attrs(n, e, "my key")), expected + " my key");
    // Leading zero bytes in the stored modulus/exponent are not part of the mpint.
    Bytes n0 = n;
    n0.insert(n0.begin(), {0, 0});
    EXPECT_EQ(openssh_public_line(rsa_attrs(n0, Bytes{0, 1, 0, 1}, "")), expected);
    // An empty exponent means 65537 (upstream's exponent 0).
    EXPECT_EQ(openssh_public_line(rsa_attrs(n, Bytes{}, "")), expected);
  }
}

TEST(OpenSsh, RsaMpintEncoding)
{
  // e = 3 (top bit clear, no pad), n = 0x00ff01 (leading zero stripped, pad added).
  auto line = openssh_public_line(rsa_attrs(Bytes{0x00, 0xff, 0x01}, Bytes{0x03}, ""));
  ASSERT_TRUE(line);
  Bytes blob = {0, 0, 0, 7, 's', 's', 'h', '-', 'r',  's',  'a', 0,
                0, 0, 1, 3, 0,   0,   0,   3,   0x00, 0xff, 0x01};
  EXPECT_EQ(*line, "ssh-rsa " + base64(blob));
}

TEST(OpenSsh, EcMatchesSshKeygen)
{
  if (!test::have_ssh_keygen()) {
    FAIL() << "ssh-keygen not installed (scripts/install-deps installs openssh-client)";
  }
  test::TempDir dir;
  for (unsigned bits : {256u, 384u, 521u}) {
    SCOPED_TRACE(bits);
    auto curve = curve_by_bits(bits);
    ASSERT_TRUE(curve);
    EvpPkey key = test::generate_ec(curve->openssl_name);
    ASSERT_TRUE(key);
    Bytes point = test::ec_point(key.get());
    ASSERT_EQ(point.size(), 1 + 2 * curve->field_bytes);
    std::string expected = test::ssh_keygen_public(key.get(), dir.path());
    ASSERT_EQ(expected.rfind(std::string("ecdsa-sha2-") + curve->ssh_name + " ", 0), 0u);
    EXPECT_EQ(openssh_public_line(ec_attrs(*curve, der_octet_string(point), "k")), expected + " k");
    EXPECT_EQ(openssh_public_line(ec_attrs(*curve, point, "")), expected); // bare point
    if (bits == 521) {
      // upstream's invalid short-form length byte 0x85
      Bytes upstream = {0x04, 0x85};
      upstream.insert(upstream.end(), point.begin(), point.end());
      EXPECT_EQ(openssh_public_line(ec_attrs(*curve, upstream, "")), expected);
    }
  }
}

TEST(OpenSsh, KeyObjectsOfOpensslKeysMatchSshKeygen)
{
  if (!test::have_ssh_keygen()) {
    FAIL() << "ssh-keygen not installed (scripts/install-deps installs openssh-client)";
  }
  test::TempDir dir;
  const tpm::AlgorithmSet algs{{TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512}};
  struct Case
  {
    TPM2_ECC_CURVE id;
    unsigned bits;
  };
  for (Case c : {Case{TPM2_ECC_NIST_P256, 256}, Case{TPM2_ECC_NIST_P384, 384},
                 Case{TPM2_ECC_NIST_P521, 521}}) {
    SCOPED_TRACE(c.bits);
    auto curve = curve_by_bits(c.bits);
    EvpPkey key;
    Bytes x;
    Bytes y;
    // The TPM may return coordinates shorter than the field; make P-521 exercise the padding
    // (its X has a zero top byte half of the time).
    for (int tries = 0; tries < 64; ++tries) {
      key = test::generate_ec(curve->openssl_name);
      x = test::bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X);
      y = test::bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
      if (c.bits != 521 || x.size() < curve->field_bytes) {
        break;
      }
    }
    if (c.bits == 521) {
      ASSERT_LT(x.size(), curve->field_bytes);
    }
    KeyObjectInput in;
    in.pub.publicArea.type = TPM2_ALG_ECC;
    in.pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    in.pub.publicArea.objectAttributes = 0x00060072;
    in.pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    in.pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    in.pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    in.pub.publicArea.parameters.eccDetail.curveID = c.id;
    auto& q = in.pub.publicArea.unique.ecc;
    q.x.size = static_cast<UINT16>(x.size());
    std::copy(x.begin(), x.end(), q.x.buffer);
    q.y.size = static_cast<UINT16>(y.size());
    std::copy(y.begin(), y.end(), q.y.buffer);
    in.label = "lbl";
    std::vector<AttrMap> objs = key_objects(in, algs);
    ASSERT_EQ(objs.size(), 2u);
    std::string expected = test::ssh_keygen_public(key.get(), dir.path()) + " lbl";
    EXPECT_EQ(openssh_public_line(objs[0]), expected);
    EXPECT_EQ(openssh_public_line(objs[1]), expected);
    // And OpenSSL accepts the stored point.
    auto back = public_key_from_attrs(objs[1]);
    ASSERT_TRUE(back);
    EXPECT_EQ(EVP_PKEY_eq(back->get(), key.get()), 1);
  }

  EvpPkey rsa = test::generate_rsa(2048);
  Bytes n = test::bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_N);
  KeyObjectInput in;
  in.pub.publicArea.type = TPM2_ALG_RSA;
  in.pub.publicArea.objectAttributes = 0x00060072;
  in.pub.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  in.pub.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  in.pub.publicArea.parameters.rsaDetail.keyBits = 2048;
  in.pub.publicArea.unique.rsa.size = static_cast<UINT16>(n.size());
  std::copy(n.begin(), n.end(), in.pub.publicArea.unique.rsa.buffer);
  std::vector<AttrMap> objs = key_objects(in, algs);
  std::string expected = test::ssh_keygen_public(rsa.get(), dir.path());
  EXPECT_EQ(openssh_public_line(objs[1]), expected);
  auto back = public_key_from_attrs(objs[1]);
  ASSERT_TRUE(back);
  EXPECT_EQ(EVP_PKEY_eq(back->get(), rsa.get()), 1);
}

TEST(OpenSsh, NoLineForOtherObjects)
{
  EXPECT_FALSE(openssh_public_line({}));
  EXPECT_FALSE(openssh_public_line({{ck::k_key_type, V::integer(ck::k_k_aes)}}));
  EXPECT_FALSE(openssh_public_line({{ck::k_key_type, V::integer(ck::k_k_sha256_hmac)}}));
  EXPECT_FALSE(openssh_public_line(rsa_attrs({}, {1, 0, 1}, "")));
  // P-224 has no OpenSSH key type.
  auto p224 = curve_by_bits(224);
  Bytes point(1 + 2 * 28, 0x01);
  point[0] = 0x04;
  EXPECT_FALSE(openssh_public_line(ec_attrs(*p224, der_octet_string(point), "")));
  // Unknown curve OID, unparsable point.
  Curve bogus = *curve_by_bits(256);
  bogus.der_oid = {0x06, 0x01, 0x00};
  EXPECT_FALSE(openssh_public_line(ec_attrs(bogus, der_octet_string(point), "")));
  EXPECT_FALSE(openssh_public_line(ec_attrs(*curve_by_bits(256), Bytes{0x05, 0x00}, "")));
}

TEST(OpenSsh, FingerprintMatchesSshKeygen)
{
  if (!test::have_ssh_keygen()) {
    FAIL() << "ssh-keygen not installed (scripts/install-deps installs openssh-client)";
  }
  test::TempDir dir;
  EvpPkey key = test::generate_ec("P-256");
  std::string line = test::ssh_keygen_public(key.get(), dir.path());
  std::filesystem::path pub = dir.path() / "key.pub";
  {
    FILE* f = std::fopen(pub.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
  std::string cmd = "ssh-keygen -l -E sha256 -f '" + pub.string() + "'";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  pclose(p);
  std::string out = buf; // "256 SHA256:… no comment (ECDSA)"
  std::string fp = out.substr(out.find(' ') + 1);
  fp = fp.substr(0, fp.find(' '));
  EXPECT_EQ(openssh_fingerprint(line), fp);
  EXPECT_EQ(openssh_fingerprint(line + " comment"), fp);
}

TEST(OpenSsh, Base64)
{
  EXPECT_EQ(base64(Bytes{}), "");
  EXPECT_EQ(base64(to_bytes("f")), "Zg==");
  EXPECT_EQ(base64(to_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64(to_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64(to_bytes("foobar")), "Zm9vYmFy");
}

} // namespace
} // namespace ptool::keys

// Labels become OpenSSH comments in authorized_keys and on terminals: no control character and
// no broken UTF-8 gets through, everything else is kept.
TEST(OpensshComment, ControlsAndBrokenUtf8BecomeQuestionMarks)
{
  EXPECT_EQ(ptool::keys::printable_comment("laptop key"), "laptop key");
  EXPECT_EQ(ptool::keys::printable_comment("x\nssh-ed25519 AAAA attacker"),
            "x?ssh-ed25519 AAAA attacker");
  EXPECT_EQ(ptool::keys::printable_comment("a\r\tb\x7f"), "a??b?");
  EXPECT_EQ(ptool::keys::printable_comment("\x1b]0;owned\x07"), "?]0;owned?");
  EXPECT_EQ(ptool::keys::printable_comment(std::string("nul\0x", 5)), "nul?x");
  EXPECT_EQ(ptool::keys::printable_comment("c1\xc2\x9b"
                                           "31m"),
            "c1?31m"); // U+009B CSI
  EXPECT_EQ(ptool::keys::printable_comment("caf\xc3\xa9 \xe2\x82\xac"),
            "caf\xc3\xa9 \xe2\x82\xac");                                  // é €
  EXPECT_EQ(ptool::keys::printable_comment("bad\xff\xc3"), "bad??");      // invalid, truncated
  EXPECT_EQ(ptool::keys::printable_comment("over\xc0\xaf"), "over??");    // overlong '/'
  EXPECT_EQ(ptool::keys::printable_comment("sur\xed\xa0\x80"), "sur???"); // UTF-16 surrogate
}
