// SPDX-License-Identifier: BSD-2-Clause
// tpm2-tools' default templates and upstream's primary templates (docs/store-format.md §4.1, §5.2).
#include <gtest/gtest.h>

#include "core/tpm/esys.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::tpm {
namespace {

KeyAlgorithm
alg(std::string_view name)
{
  auto a = parse_algorithm(name);
  EXPECT_TRUE(a.has_value()) << name;
  return a.value_or(KeyAlgorithm{});
}

TEST(Templates, ParsesEveryAlgorithmName)
{
  struct Case
  {
    const char* name;
    KeyKind kind;
    uint16_t bits;
    TPM2_ECC_CURVE curve;
    TPM2_ALG_ID hash;
  };
  const Case cases[] = {
    {"rsa1024", KeyKind::k_rsa, 1024, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"rsa2048", KeyKind::k_rsa, 2048, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"rsa3072", KeyKind::k_rsa, 3072, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"rsa4096", KeyKind::k_rsa, 4096, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"aes128", KeyKind::k_aes, 128, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"aes256", KeyKind::k_aes, 256, TPM2_ECC_NONE, TPM2_ALG_NULL},
    {"ecc224", KeyKind::k_ecc, 224, TPM2_ECC_NIST_P224, TPM2_ALG_NULL},
    {"ecc256", KeyKind::k_ecc, 256, TPM2_ECC_NIST_P256, TPM2_ALG_NULL},
    {"ecc384", KeyKind::k_ecc, 384, TPM2_ECC_NIST_P384, TPM2_ALG_NULL},
    {"ecc521", KeyKind::k_ecc, 521, TPM2_ECC_NIST_P521, TPM2_ALG_NULL},
    {"hmac:sha1", KeyKind::k_hmac, 0, TPM2_ECC_NONE, TPM2_ALG_SHA1},
    {"hmac:sha256", KeyKind::k_hmac, 0, TPM2_ECC_NONE, TPM2_ALG_SHA256},
    {"hmac:sha384", KeyKind::k_hmac, 0, TPM2_ECC_NONE, TPM2_ALG_SHA384},
    {"hmac:sha512", KeyKind::k_hmac, 0, TPM2_ECC_NONE, TPM2_ALG_SHA512},
  };
  ASSERT_EQ(algorithm_names().size(), std::size(cases));
  size_t i = 0;
  for (const Case& c : cases) {
    EXPECT_EQ(algorithm_names()[i++], c.name);
    KeyAlgorithm a = alg(c.name);
    EXPECT_EQ(a.name, c.name);
    EXPECT_EQ(a.kind, c.kind) << c.name;
    EXPECT_EQ(a.bits, c.bits) << c.name;
    EXPECT_EQ(a.curve, c.curve) << c.name;
    EXPECT_EQ(a.hash, c.hash) << c.name;
  }
}

TEST(Templates, RejectsInvalidAlgorithmNames)
{
  for (const char* bad :
       {"", "rsa", "rsa512", "rsa2047", "RSA2048", "aes192", "ecc", "ecc255", "ecc25", "hmac",
        "hmac:", "hmac:sha224", "hmac:md5", "hmac-sha256", "rsa2048 ", " aes128", "ecdsa", "x"}) {
    EXPECT_FALSE(parse_algorithm(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(Templates, KeyTemplatesAreTpm2ToolsDefaults)
{
  for (const std::string& name : algorithm_names()) {
    SCOPED_TRACE(name);
    KeyAlgorithm a = alg(name);
    TPMT_PUBLIC t = key_template(a).publicArea;
    EXPECT_EQ(t.nameAlg, TPM2_ALG_SHA256);
    EXPECT_EQ(t.authPolicy.size, 0);
    EXPECT_EQ(t.objectAttributes, a.kind == KeyKind::k_hmac ? 0x00040072u : 0x00060072u);
    switch (a.kind) {
    case KeyKind::k_rsa:
      EXPECT_EQ(t.type, TPM2_ALG_RSA);
      EXPECT_EQ(t.parameters.rsaDetail.keyBits, a.bits);
      EXPECT_EQ(t.parameters.rsaDetail.exponent, 0u);
      EXPECT_EQ(t.parameters.rsaDetail.scheme.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(t.parameters.rsaDetail.symmetric.algorithm, TPM2_ALG_NULL);
      EXPECT_EQ(t.unique.rsa.size, 0);
      break;
    case KeyKind::k_ecc:
      EXPECT_EQ(t.type, TPM2_ALG_ECC);
      EXPECT_EQ(t.parameters.eccDetail.curveID, a.curve);
      EXPECT_EQ(t.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(t.parameters.eccDetail.kdf.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(t.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_NULL);
      EXPECT_EQ(t.unique.ecc.x.size, 0);
      break;
    case KeyKind::k_aes:
      EXPECT_EQ(t.type, TPM2_ALG_SYMCIPHER);
      EXPECT_EQ(t.parameters.symDetail.sym.algorithm, TPM2_ALG_AES);
      EXPECT_EQ(t.parameters.symDetail.sym.keyBits.aes, a.bits);
      EXPECT_EQ(t.parameters.symDetail.sym.mode.aes, TPM2_ALG_NULL);
      break;
    case KeyKind::k_hmac:
      EXPECT_EQ(t.type, TPM2_ALG_KEYEDHASH);
      EXPECT_EQ(t.parameters.keyedHashDetail.scheme.scheme, TPM2_ALG_HMAC);
      EXPECT_EQ(t.parameters.keyedHashDetail.scheme.details.hmac.hashAlg, a.hash);
      break;
    }
  }
}

TEST(Templates, SealTemplate)
{
  TPMT_PUBLIC t = seal_template().publicArea;
  EXPECT_EQ(t.type, TPM2_ALG_KEYEDHASH);
  EXPECT_EQ(t.nameAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(t.objectAttributes, 0x52u);
  EXPECT_EQ(t.authPolicy.size, 0);
  EXPECT_EQ(t.parameters.keyedHashDetail.scheme.scheme, TPM2_ALG_NULL);
  EXPECT_EQ(t.unique.keyedHash.size, 0);
}

void
expect_aes128_cfb(const TPMT_SYM_DEF_OBJECT& sym)
{
  EXPECT_EQ(sym.algorithm, TPM2_ALG_AES);
  EXPECT_EQ(sym.keyBits.aes, 128);
  EXPECT_EQ(sym.mode.aes, TPM2_ALG_CFB);
}

TEST(Templates, PrimaryTemplates)
{
  EXPECT_EQ(
    primary_template_names(),
    (std::vector<std::string>{"tpm2-tools-default", "tpm2-tools-ecc-default", "tss2-engine-key"}));

  auto rsa = primary_template("tpm2-tools-default");
  ASSERT_TRUE(rsa);
  const TPMT_PUBLIC& r = rsa->publicArea;
  EXPECT_EQ(r.type, TPM2_ALG_RSA);
  EXPECT_EQ(r.nameAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(r.objectAttributes, 0x00030072u);
  EXPECT_EQ(r.parameters.rsaDetail.keyBits, 2048);
  EXPECT_EQ(r.parameters.rsaDetail.exponent, 0u);
  EXPECT_EQ(r.parameters.rsaDetail.scheme.scheme, TPM2_ALG_NULL);
  expect_aes128_cfb(r.parameters.rsaDetail.symmetric);
  EXPECT_EQ(r.unique.rsa.size, 0);
  EXPECT_EQ(r.authPolicy.size, 0);

  for (const char* name : {"tpm2-tools-ecc-default", "tss2-engine-key"}) {
    SCOPED_TRACE(name);
    auto ecc = primary_template(name);
    ASSERT_TRUE(ecc);
    const TPMT_PUBLIC& e = ecc->publicArea;
    EXPECT_EQ(e.type, TPM2_ALG_ECC);
    EXPECT_EQ(e.nameAlg, TPM2_ALG_SHA256);
    EXPECT_EQ(e.objectAttributes,
              std::string_view(name) == "tss2-engine-key" ? 0x00030472u : 0x00030072u);
    EXPECT_EQ(e.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
    EXPECT_EQ(e.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
    EXPECT_EQ(e.parameters.eccDetail.kdf.scheme, TPM2_ALG_NULL);
    expect_aes128_cfb(e.parameters.eccDetail.symmetric);
    EXPECT_EQ(e.unique.ecc.x.size, 0);
    EXPECT_EQ(e.unique.ecc.y.size, 0);
  }
  EXPECT_FALSE(primary_template("").has_value());
  EXPECT_FALSE(primary_template("tpm2-tools-rsa-default").has_value());
  EXPECT_FALSE(primary_template("TPM2-TOOLS-DEFAULT").has_value());
}

// The TCTI rule for a tcti read from the store (the PKCS#11 module runs inside other programs).
TEST(StoreTcti, OnlyKnownNamesWithoutSlashes)
{
  for (const char* ok : {"device", "device:/dev/tpmrm0", "tabrmd", "tabrmd:bus_type=session",
                         "swtpm:host=127.0.0.1,port=2321", "mssim:port=2321"}) {
    EXPECT_TRUE(is_allowed_store_tcti(ok)) << ok;
  }
  for (const char* bad :
       {"/tmp/evil.so", "/tmp/evil.so:x", "./libtss2-tcti-device.so", "cmd:touch /tmp/x", "cmd",
        "libtss2-tcti-device.so.0:/dev/tpm0", "pcap:device:/dev/tpmrm0", "", ":", "Device",
        "../device", "device/x:y"}) {
    EXPECT_FALSE(is_allowed_store_tcti(bad)) << bad;
  }
}

} // namespace
} // namespace ptool::tpm
