// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/mechanisms.hpp"

#include <algorithm>
#include <array>

namespace ptool::p11 {

namespace {

using F = Mechanism::Family;
constexpr CK_FLAGS k_rsa_sign = CKF_HW | CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS k_rsa_crypt = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
// No CKF_EC_* capability flags: upstream 1.9.0 sets none.
constexpr CK_FLAGS k_ec_sign = CKF_HW | CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS k_aes = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
constexpr CK_FLAGS k_hmac = CKF_HW | CKF_SIGN | CKF_VERIFY;
// Key sizes: RSA and EC in bits, AES and HMAC in bytes (as upstream reports them).
constexpr CK_ULONG k_rsa_min = 1024, k_rsa_max = 4096, k_ec_min = 256, k_ec_max = 521;

constexpr Mechanism
rsa(CK_MECHANISM_TYPE t, F f, std::string_view md, CK_FLAGS flags)
{
  return Mechanism{t, f, md, flags, k_rsa_min, k_rsa_max};
}
constexpr Mechanism
ec(CK_MECHANISM_TYPE t, std::string_view md)
{
  return Mechanism{t, F::k_ecdsa, md, k_ec_sign, k_ec_min, k_ec_max};
}
constexpr Mechanism
aes(CK_MECHANISM_TYPE t, TPM2_ALG_ID mode, bool pad = false)
{
  return Mechanism{t, F::k_aes, "", k_aes, 16, 32, mode, pad};
}
constexpr Mechanism
hmac(CK_MECHANISM_TYPE t, std::string_view md, CK_ULONG len)
{
  return Mechanism{t, F::k_hmac, md, k_hmac, len, len};
}
constexpr Mechanism
digest(CK_MECHANISM_TYPE t, std::string_view md)
{
  return Mechanism{t, F::k_digest, md, CKF_DIGEST};
}

// Upstream 1.9.0's table, in its order (C_GetMechanismList), less what it never offers
// through the library (no GCM, no OFB).
constexpr std::array k_mechanisms = {
  rsa(CKM_RSA_X_509, F::k_rsa_x509, "", k_rsa_sign | k_rsa_crypt),
  rsa(CKM_RSA_PKCS, F::k_rsa_pkcs, "", k_rsa_sign | k_rsa_crypt),
  rsa(CKM_RSA_PKCS_PSS, F::k_rsa_pss, "", k_rsa_sign),
  rsa(CKM_RSA_PKCS_OAEP, F::k_rsa_oaep, "", k_rsa_crypt),
  rsa(CKM_SHA1_RSA_PKCS, F::k_rsa_pkcs, "SHA1", k_rsa_sign),
  rsa(CKM_SHA256_RSA_PKCS, F::k_rsa_pkcs, "SHA256", k_rsa_sign),
  rsa(CKM_SHA384_RSA_PKCS, F::k_rsa_pkcs, "SHA384", k_rsa_sign),
  rsa(CKM_SHA512_RSA_PKCS, F::k_rsa_pkcs, "SHA512", k_rsa_sign),
  rsa(CKM_SHA1_RSA_PKCS_PSS, F::k_rsa_pss, "SHA1", k_rsa_sign),
  rsa(CKM_SHA256_RSA_PKCS_PSS, F::k_rsa_pss, "SHA256", k_rsa_sign),
  rsa(CKM_SHA384_RSA_PKCS_PSS, F::k_rsa_pss, "SHA384", k_rsa_sign),
  rsa(CKM_SHA512_RSA_PKCS_PSS, F::k_rsa_pss, "SHA512", k_rsa_sign),
  ec(CKM_ECDSA, ""),
  ec(CKM_ECDSA_SHA1, "SHA1"),
  ec(CKM_ECDSA_SHA256, "SHA256"),
  ec(CKM_ECDSA_SHA384, "SHA384"),
  ec(CKM_ECDSA_SHA512, "SHA512"),
  aes(CKM_AES_CBC, TPM2_ALG_CBC),
  aes(CKM_AES_CBC_PAD, TPM2_ALG_CBC, true),
  aes(CKM_AES_CFB128, TPM2_ALG_CFB),
  aes(CKM_AES_ECB, TPM2_ALG_ECB),
  aes(CKM_AES_CTR, TPM2_ALG_CTR),
  digest(CKM_SHA_1, "SHA1"),
  digest(CKM_SHA256, "SHA256"),
  digest(CKM_SHA384, "SHA384"),
  digest(CKM_SHA512, "SHA512"),
  hmac(CKM_SHA_1_HMAC, "SHA1", 20),
  hmac(CKM_SHA256_HMAC, "SHA256", 32),
  hmac(CKM_SHA384_HMAC, "SHA384", 48),
  hmac(CKM_SHA512_HMAC, "SHA512", 64),
  // Key generation (keygen.cpp); pkcs11-tool --keypairgen looks for these first.
  Mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, F::k_keygen, "", CKF_HW | CKF_GENERATE_KEY_PAIR, k_rsa_min,
            k_rsa_max},
  Mechanism{CKM_EC_KEY_PAIR_GEN, F::k_keygen, "", CKF_HW | CKF_GENERATE_KEY_PAIR, k_ec_min,
            k_ec_max},
  Mechanism{CKM_AES_KEY_GEN, F::k_keygen, "", CKF_HW | CKF_GENERATE, 16, 32},
};

struct HashNames
{
  CK_MECHANISM_TYPE mech;
  CK_RSA_PKCS_MGF_TYPE mgf;
  TPM2_ALG_ID tpm;
  std::string_view md;
};
constexpr std::array k_hashes = {
  HashNames{CKM_SHA_1, CKG_MGF1_SHA1, TPM2_ALG_SHA1, "SHA1"},
  HashNames{CKM_SHA256, CKG_MGF1_SHA256, TPM2_ALG_SHA256, "SHA256"},
  HashNames{CKM_SHA384, CKG_MGF1_SHA384, TPM2_ALG_SHA384, "SHA384"},
  HashNames{CKM_SHA512, CKG_MGF1_SHA512, TPM2_ALG_SHA512, "SHA512"},
};

template<typename Pred>
const HashNames*
find_hash(Pred pred)
{
  auto it = std::find_if(k_hashes.begin(), k_hashes.end(), pred);
  return it == k_hashes.end() ? nullptr : &*it;
}

} // namespace

std::span<const Mechanism>
mechanisms()
{
  return k_mechanisms;
}

const Mechanism*
find_mechanism(CK_MECHANISM_TYPE type)
{
  auto it = std::find_if(k_mechanisms.begin(), k_mechanisms.end(),
                         [&](const Mechanism& m) { return m.type == type; });
  return it == k_mechanisms.end() ? nullptr : &*it;
}

std::string_view
md_of_hash_mechanism(CK_MECHANISM_TYPE hash)
{
  const HashNames* h = find_hash([&](const HashNames& n) { return n.mech == hash; });
  return h ? h->md : std::string_view();
}

std::string_view
md_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
  const HashNames* h = find_hash([&](const HashNames& n) { return n.mgf == mgf; });
  return h ? h->md : std::string_view();
}

TPM2_ALG_ID
tpm_hash(std::string_view md)
{
  const HashNames* h = find_hash([&](const HashNames& n) { return n.md == md; });
  return h ? h->tpm : TPM2_ALG_NULL;
}

std::string_view
md_of_tpm_hash(TPM2_ALG_ID alg)
{
  const HashNames* h = find_hash([&](const HashNames& n) { return n.tpm == alg; });
  return h ? h->md : std::string_view();
}

} // namespace ptool::p11
