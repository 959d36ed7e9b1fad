// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/key_import.hpp"

#include <cstring>

#include <openssl/crypto.h>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::tpm {

namespace {

constexpr TPMA_OBJECT k_import_attrs =
  TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_USERWITHAUTH;

template<typename B>
void
fill(B& dst, std::span<const uint8_t> src, const char* what)
{
  if (src.size() > sizeof(dst.buffer)) {
    throw Error(ExitCode::k_unsupported, std::string(what) + " is larger than the TPM accepts");
  }
  dst.size = static_cast<UINT16>(src.size());
  if (!src.empty()) {
    std::memcpy(dst.buffer, src.data(), src.size());
  }
}

TPM2_ECC_CURVE
tpm_curve(const std::string& name)
{
  if (name == "secp224r1") {
    return TPM2_ECC_NIST_P224;
  }
  if (name == "prime256v1") {
    return TPM2_ECC_NIST_P256;
  }
  if (name == "secp384r1") {
    return TPM2_ECC_NIST_P384;
  }
  if (name == "secp521r1") {
    return TPM2_ECC_NIST_P521;
  }
  throw Error(ExitCode::k_unsupported, "EC curve " + name + " is not supported by TPMs");
}

} // namespace

ImportAreas::~ImportAreas()
{
  OPENSSL_cleanse(&sensitive, sizeof(sensitive));
}

void
build_import_areas(const keys::PlainKey& key, std::span<const uint8_t> auth, TPM2_ALG_ID hmac_hash,
                   ImportAreas& out)
{
  TPMT_PUBLIC& pub = out.pub.publicArea;
  TPMT_SENSITIVE& sens = out.sensitive;
  pub.nameAlg = TPM2_ALG_SHA256;
  pub.objectAttributes = k_import_attrs;
  fill(sens.authValue, auth, "the object auth");
  switch (key.kind) {
  case keys::PlainKey::Kind::k_rsa: {
    const size_t bits = key.modulus.size() * 8;
    if (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096) {
      throw Error(ExitCode::k_unsupported,
                  "RSA keys of " + std::to_string(bits) + " bits cannot be imported",
                  "TPMs take 1024, 2048, 3072 or 4096-bit RSA keys");
    }
    pub.type = TPM2_ALG_RSA;
    pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    pub.parameters.rsaDetail.keyBits = static_cast<UINT16>(bits);
    // The TPM encodes the default exponent 65537 as 0, as tpm2-tools does.
    pub.parameters.rsaDetail.exponent = key.exponent == 65537 ? 0 : key.exponent;
    fill(pub.unique.rsa, key.modulus, "the RSA modulus");
    sens.sensitiveType = TPM2_ALG_RSA;
    fill(sens.sensitive.rsa, key.prime, "the RSA prime");
    break;
  }
  case keys::PlainKey::Kind::k_ec:
    pub.type = TPM2_ALG_ECC;
    pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    pub.parameters.eccDetail.curveID = tpm_curve(key.curve);
    pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    fill(pub.unique.ecc.x, key.x, "the EC point");
    fill(pub.unique.ecc.y, key.y, "the EC point");
    sens.sensitiveType = TPM2_ALG_ECC;
    fill(sens.sensitive.ecc, key.scalar, "the EC private key");
    break;
  case keys::PlainKey::Kind::k_hmac: {
    pub.type = TPM2_ALG_KEYEDHASH;
    auto& scheme = pub.parameters.keyedHashDetail.scheme;
    if (hmac_hash == TPM2_ALG_NULL) {
      scheme.scheme = TPM2_ALG_NULL;
    } else {
      // An HMAC-scheme key may only sign.
      scheme.scheme = TPM2_ALG_HMAC;
      scheme.details.hmac.hashAlg = hmac_hash;
      pub.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    }
    sens.sensitiveType = TPM2_ALG_KEYEDHASH;
    fill(sens.sensitive.bits, key.secret, "the HMAC key");
    // unique = H(seedValue || key): the TPM recomputes and checks it at import.
    SecureBytes seed = crypto::random_bytes(32);
    fill(sens.seedValue, seed, "the seed");
    SecureBytes hashed(seed.begin(), seed.end());
    hashed.insert(hashed.end(), key.secret.begin(), key.secret.end());
    Bytes unique = crypto::sha256(hashed);
    fill(pub.unique.keyedHash, unique, "the unique digest");
    break;
  }
  }
}

} // namespace ptool::tpm
