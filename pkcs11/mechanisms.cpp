// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/mechanisms.hpp"

#include <algorithm>
#include <array>

namespace ptool::p11 {

namespace {

using F = Mechanism::Family;
constexpr CK_FLAGS k_rsa_sign = CKF_HW | CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS k_ec_sign =
  CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

constexpr std::array k_mechanisms = {
  Mechanism{CKM_RSA_PKCS, F::k_rsa_pkcs, "", k_rsa_sign | CKF_DECRYPT},
  Mechanism{CKM_RSA_PKCS_OAEP, F::k_rsa_oaep, "", CKF_HW | CKF_DECRYPT},
  Mechanism{CKM_RSA_PKCS_PSS, F::k_rsa_pss, "", k_rsa_sign},
  Mechanism{CKM_SHA1_RSA_PKCS, F::k_rsa_pkcs, "SHA1", k_rsa_sign},
  Mechanism{CKM_SHA256_RSA_PKCS, F::k_rsa_pkcs, "SHA256", k_rsa_sign},
  Mechanism{CKM_SHA384_RSA_PKCS, F::k_rsa_pkcs, "SHA384", k_rsa_sign},
  Mechanism{CKM_SHA512_RSA_PKCS, F::k_rsa_pkcs, "SHA512", k_rsa_sign},
  Mechanism{CKM_SHA1_RSA_PKCS_PSS, F::k_rsa_pss, "SHA1", k_rsa_sign},
  Mechanism{CKM_SHA256_RSA_PKCS_PSS, F::k_rsa_pss, "SHA256", k_rsa_sign},
  Mechanism{CKM_SHA384_RSA_PKCS_PSS, F::k_rsa_pss, "SHA384", k_rsa_sign},
  Mechanism{CKM_SHA512_RSA_PKCS_PSS, F::k_rsa_pss, "SHA512", k_rsa_sign},
  Mechanism{CKM_ECDSA, F::k_ecdsa, "", k_ec_sign},
  Mechanism{CKM_ECDSA_SHA1, F::k_ecdsa, "SHA1", k_ec_sign},
  Mechanism{CKM_ECDSA_SHA256, F::k_ecdsa, "SHA256", k_ec_sign},
  Mechanism{CKM_ECDSA_SHA384, F::k_ecdsa, "SHA384", k_ec_sign},
  Mechanism{CKM_ECDSA_SHA512, F::k_ecdsa, "SHA512", k_ec_sign},
  // Key generation (keygen.cpp); pkcs11-tool --keypairgen asks for these first.
  Mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, F::k_rsa_pkcs, "", CKF_HW | CKF_GENERATE_KEY_PAIR},
  Mechanism{CKM_EC_KEY_PAIR_GEN, F::k_ecdsa, "",
            CKF_HW | CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS},
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
