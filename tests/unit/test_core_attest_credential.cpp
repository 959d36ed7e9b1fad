// SPDX-License-Identifier: BSD-2-Clause
// KDFa, KDFe and the software TPM2_MakeCredential of core/attest against tpm2-tools:
// attest_vectors.inc holds EK keys (test only) and what `tpm2_makecredential --tcti none`
// made for them (make_attest_vectors.py). A software ActivateCredential built on our kdfa /
// kdfe must recover tpm2-tools' secret, so both KDFs agree with tpm2-tools' own.
#include <cstring>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <gtest/gtest.h>

#include "core/attest/credential.hpp"
#include "core/attest/public.hpp"
#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"

namespace ptool::attest {
namespace {

#include "tests/unit/attest_vectors.inc"

Bytes
hex(const char* s)
{
  return *from_hex(s);
}

TPMT_PUBLIC
area(const char* s)
{
  return unmarshal_tpmt_public(hex(s), "vector");
}

EvpPkey
private_key(const char* der_hex)
{
  Bytes der = hex(der_hex);
  const unsigned char* p = der.data();
  return EvpPkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
}

// The seed, recovered with the EK's private key.
SecureBytes
recover_seed(const TPMT_PUBLIC& ek, EVP_PKEY* priv, const TPM2B_ENCRYPTED_SECRET& secret)
{
  if (ek.type == TPM2_ALG_RSA) {
    EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, priv, nullptr));
    static const char k_label[] = "IDENTITY";
    auto* label = static_cast<unsigned char*>(OPENSSL_memdup(k_label, sizeof(k_label)));
    EXPECT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256());
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256());
    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof(k_label));
    SecureBytes seed(512);
    size_t len = seed.size();
    EXPECT_EQ(EVP_PKEY_decrypt(ctx.get(), seed.data(), &len, secret.secret, secret.size), 1);
    seed.resize(len);
    return seed;
  }
  TPMS_ECC_POINT q{};
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret.secret, secret.size, &off, &q),
            TSS2_RC_SUCCESS);
  TPMT_PUBLIC eph = ek;
  eph.unique.ecc = q;
  EvpPkey peer = public_key(eph);
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, priv, nullptr));
  SecureBytes z(66);
  size_t zlen = z.size();
  EXPECT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), 1);
  EXPECT_EQ(EVP_PKEY_derive(ctx.get(), z.data(), &zlen), 1);
  z.resize(zlen);
  return kdfe(TPM2_ALG_SHA256, z, "IDENTITY", std::span(q.x.buffer, q.x.size),
              std::span(ek.unique.ecc.x.buffer, ek.unique.ecc.x.size), 256);
}

// TPM2_ActivateCredential in software (Part 1 §24.6), with our kdfa / kdfe; nullopt when
// the integrity HMAC does not match.
std::optional<Bytes>
activate(const TPMT_PUBLIC& ek, EVP_PKEY* priv, std::span<const uint8_t> id_object,
         std::span<const uint8_t> encrypted_secret, std::span<const uint8_t> name)
{
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  size_t o1 = 0, o2 = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object.data(), id_object.size(), &o1, &blob),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(),
                                                     encrypted_secret.size(), &o2, &secret),
            TSS2_RC_SUCCESS);
  SecureBytes seed = recover_seed(ek, priv, secret);
  const size_t hlen = static_cast<size_t>(blob.credential[0]) << 8 | blob.credential[1];
  std::span<const uint8_t> integrity(blob.credential + 2, hlen);
  std::span<const uint8_t> enc(blob.credential + 2 + hlen, blob.size - 2 - hlen);
  SecureBytes hmac_key = kdfa(TPM2_ALG_SHA256, seed, "INTEGRITY", {}, {}, 256);
  Bytes mac_in(enc.begin(), enc.end());
  mac_in.insert(mac_in.end(), name.begin(), name.end());
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()), mac_in.data(),
       mac_in.size(), mac, &mac_len);
  if (mac_len != integrity.size() || std::memcmp(mac, integrity.data(), mac_len) != 0) {
    return std::nullopt;
  }
  SecureBytes sym = kdfa(TPM2_ALG_SHA256, seed, "STORAGE", name, {}, 128);
  const uint8_t iv[16] = {};
  Bytes plain(enc.size());
  int len = 0;
  EvpCipherCtx c(EVP_CIPHER_CTX_new());
  EXPECT_EQ(EVP_DecryptInit_ex(c.get(), EVP_aes_128_cfb128(), nullptr, sym.data(), iv), 1);
  EXPECT_EQ(
    EVP_DecryptUpdate(c.get(), plain.data(), &len, enc.data(), static_cast<int>(enc.size())), 1);
  const size_t n = static_cast<size_t>(plain[0]) << 8 | plain[1];
  return Bytes(plain.begin() + 2, plain.begin() + 2 + static_cast<long>(n));
}

// tpm2-tools' output file after its 8-byte header: TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET.
std::pair<Bytes, Bytes>
split_cred(const char* s)
{
  Bytes all = hex(s);
  const size_t n = 2 + (static_cast<size_t>(all[0]) << 8 | all[1]);
  return {Bytes(all.begin(), all.begin() + static_cast<long>(n)),
          Bytes(all.begin() + static_cast<long>(n), all.end())};
}

struct Vector
{
  const char* ek_public;
  const char* ek_private;
  const char* cred;
};

class TpmToolsCredential : public ::testing::TestWithParam<Vector>
{};

TEST_P(TpmToolsCredential, KdfaAndKdfeRecoverTheSecret)
{
  const Vector& v = GetParam();
  TPMT_PUBLIC ek = area(v.ek_public);
  EvpPkey priv = private_key(v.ek_private);
  ASSERT_TRUE(priv);
  auto [id_object, secret] = split_cred(v.cred);
  auto got = activate(ek, priv.get(), id_object, secret, hex(k_name));
  ASSERT_TRUE(got.has_value()) << "integrity HMAC with our KDFa differs from tpm2-tools'";
  EXPECT_EQ(*got, hex(k_secret));
  // Another object's name fails the integrity check.
  Bytes other = hex(k_name);
  other.back() ^= 1;
  EXPECT_FALSE(activate(ek, priv.get(), id_object, secret, other).has_value());
}

TEST_P(TpmToolsCredential, OurMakeCredentialActivates)
{
  const Vector& v = GetParam();
  TPMT_PUBLIC ek = area(v.ek_public);
  EvpPkey priv = private_key(v.ek_private);
  Bytes credential = hex(k_secret);
  MadeCredential made = make_credential(ek, hex(k_name), credential);
  auto got = activate(ek, priv.get(), made.id_object, made.encrypted_secret, hex(k_name));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, credential);
}

INSTANTIATE_TEST_SUITE_P(
  Ek, TpmToolsCredential,
  ::testing::Values(Vector{k_rsa_ek_public, k_rsa_ek_private_der, k_rsa_cred},
                    Vector{k_ecc_ek_public, k_ecc_ek_private_der, k_ecc_cred}));

} // namespace
} // namespace ptool::attest
