// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/import.hpp"

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/key_ops.hpp"

namespace ptool::tpm {

namespace {

constexpr size_t k_inner_key_bytes = 16; // AES-128

// Marshalled TPM2B_SENSITIVE (size prefix included), wiped on release.
SecureBytes
marshal_sensitive(const TPMT_SENSITIVE& sensitive)
{
  Wiped<TPM2B_SENSITIVE> wrapped;
  wrapped->sensitiveArea = sensitive;
  SecureBytes out(sizeof(TPM2B_SENSITIVE));
  size_t offset = 0;
  check_rc(Tss2_MU_TPM2B_SENSITIVE_Marshal(wrapped.get(), out.data(), out.size(), &offset),
           "Tss2_MU_TPM2B_SENSITIVE_Marshal");
  out.resize(offset);
  return out;
}

// The inner duplication wrapper of TPM 2.0 Part 1 §23.3.2.2:
// CFB_key(IV=0)( TPM2B_DIGEST(H(sensitive || name)) || sensitive ).
SecureBytes
inner_wrap(const SecureBytes& sensitive, const Bytes& name, const SecureBytes& key)
{
  SecureBytes plain;
  SecureBytes hashed(sensitive.begin(), sensitive.end());
  hashed.insert(hashed.end(), name.begin(), name.end());
  Bytes integrity = crypto::sha256(hashed);
  plain.push_back(static_cast<uint8_t>(integrity.size() >> 8));
  plain.push_back(static_cast<uint8_t>(integrity.size() & 0xff));
  plain.insert(plain.end(), integrity.begin(), integrity.end());
  plain.insert(plain.end(), sensitive.begin(), sensitive.end());

  SecureBytes out(plain.size());
  const uint8_t iv[16] = {};
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr, key.data(), iv) != 1
      || EVP_EncryptUpdate(ctx.get(), out.data(), &len, plain.data(),
                           static_cast<int>(plain.size()))
           != 1
      || EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL AES-128-CFB failed while wrapping the key");
  }
  return out;
}

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

TPM2B_PRIVATE
import_sensitive(PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPMT_SENSITIVE& sensitive)
{
  ESYS_CONTEXT* ctx = pc.ctx();
  SecureBytes key = crypto::random_bytes(k_inner_key_bytes);
  SecureBytes wrapped = inner_wrap(marshal_sensitive(sensitive), object_name(pub), key);
  Wiped<TPM2B_DATA> enc_key;
  enc_key->size = static_cast<UINT16>(key.size());
  std::memcpy(enc_key->buffer, key.data(), key.size());
  Wiped<TPM2B_PRIVATE> duplicate;
  if (wrapped.size() > sizeof(duplicate->buffer)) {
    throw Error(ExitCode::k_usage, "the key is too large to import into the TPM");
  }
  duplicate->size = static_cast<UINT16>(wrapped.size());
  std::memcpy(duplicate->buffer, wrapped.data(), wrapped.size());
  TPM2B_ENCRYPTED_SECRET seed{}; // no outer wrapper: the parent need not decrypt a seed
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = 128;
  sym.mode.aes = TPM2_ALG_CFB;

  // encryptionKey is the first command parameter: the salted session encrypts it.
  pc.session().use_for(true, false);
  TPM2B_PRIVATE* out = nullptr;
  TSS2_RC rc = Esys_Import(ctx, pc.primary(), pc.session().get(), ESYS_TR_NONE, ESYS_TR_NONE,
                           enc_key.get(), &pub, duplicate.get(), &seed, &sym, &out);
  EsysPtr<TPM2B_PRIVATE> owned(out);
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    throw Error(ExitCode::k_unsupported,
                std::string("the TPM refused the key's parameters (TPM2_Import)"),
                "this TPM may not support the key's size or curve; 'tpm2-ptool doctor' lists "
                "what it supports");
  }
  check_rc(rc, "TPM2_Import", AuthKind::k_primary);
  return *out;
}

} // namespace ptool::tpm
