// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/templates.hpp"

namespace ptool::tpm {

namespace {

constexpr TPMA_OBJECT k_key_attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                    | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                    | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT; // 0x60072
constexpr TPMA_OBJECT k_storage_attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                        | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                        | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT; // 0x30072

TPM2B_PUBLIC
base(TPMI_ALG_PUBLIC type, TPMA_OBJECT attrs)
{
  TPM2B_PUBLIC pub{};
  pub.publicArea.type = type;
  pub.publicArea.nameAlg = TPM2_ALG_SHA256;
  pub.publicArea.objectAttributes = attrs;
  return pub;
}

TPM2B_PUBLIC
rsa_storage()
{
  TPM2B_PUBLIC pub = base(TPM2_ALG_RSA, k_storage_attrs);
  auto& rsa = pub.publicArea.parameters.rsaDetail;
  rsa.symmetric.algorithm = TPM2_ALG_AES;
  rsa.symmetric.keyBits.aes = 128;
  rsa.symmetric.mode.aes = TPM2_ALG_CFB;
  rsa.scheme.scheme = TPM2_ALG_NULL;
  rsa.keyBits = 2048;
  rsa.exponent = 0;
  return pub;
}

TPM2B_PUBLIC
ecc_storage(TPMA_OBJECT attrs)
{
  TPM2B_PUBLIC pub = base(TPM2_ALG_ECC, attrs);
  auto& ecc = pub.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return pub;
}

} // namespace

const std::vector<std::string>&
algorithm_names()
{
  static const std::vector<std::string> k_names = {
    "rsa1024", "rsa2048", "rsa3072", "rsa4096",   "aes128",      "aes256",      "ecc224",
    "ecc256",  "ecc384",  "ecc521",  "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"};
  return k_names;
}

std::optional<KeyAlgorithm>
parse_algorithm(std::string_view name)
{
  KeyAlgorithm a{std::string(name), KeyKind::k_rsa};
  if (name == "rsa1024" || name == "rsa2048" || name == "rsa3072" || name == "rsa4096") {
    a.bits = static_cast<uint16_t>(std::stoi(std::string(name.substr(3))));
  } else if (name == "aes128" || name == "aes256") {
    a.kind = KeyKind::k_aes;
    a.bits = name == "aes128" ? 128 : 256;
  } else if (name == "ecc224" || name == "ecc256" || name == "ecc384" || name == "ecc521") {
    a.kind = KeyKind::k_ecc;
    a.bits = static_cast<uint16_t>(std::stoi(std::string(name.substr(3))));
    a.curve = a.bits == 224   ? TPM2_ECC_NIST_P224
              : a.bits == 256 ? TPM2_ECC_NIST_P256
              : a.bits == 384 ? TPM2_ECC_NIST_P384
                              : TPM2_ECC_NIST_P521;
  } else if (name == "hmac:sha1" || name == "hmac:sha256" || name == "hmac:sha384"
             || name == "hmac:sha512") {
    a.kind = KeyKind::k_hmac;
    a.hash = name == "hmac:sha1"     ? TPM2_ALG_SHA1
             : name == "hmac:sha256" ? TPM2_ALG_SHA256
             : name == "hmac:sha384" ? TPM2_ALG_SHA384
                                     : TPM2_ALG_SHA512;
  } else {
    return std::nullopt;
  }
  return a;
}

TPM2B_PUBLIC
key_template(const KeyAlgorithm& alg)
{
  switch (alg.kind) {
  case KeyKind::k_rsa: {
    TPM2B_PUBLIC pub = base(TPM2_ALG_RSA, k_key_attrs);
    auto& rsa = pub.publicArea.parameters.rsaDetail;
    rsa.symmetric.algorithm = TPM2_ALG_NULL;
    rsa.scheme.scheme = TPM2_ALG_NULL;
    rsa.keyBits = alg.bits;
    rsa.exponent = 0;
    return pub;
  }
  case KeyKind::k_ecc: {
    TPM2B_PUBLIC pub = base(TPM2_ALG_ECC, k_key_attrs);
    auto& ecc = pub.publicArea.parameters.eccDetail;
    ecc.symmetric.algorithm = TPM2_ALG_NULL;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = alg.curve;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    return pub;
  }
  case KeyKind::k_aes: {
    TPM2B_PUBLIC pub = base(TPM2_ALG_SYMCIPHER, k_key_attrs);
    auto& sym = pub.publicArea.parameters.symDetail.sym;
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = alg.bits;
    sym.mode.aes = TPM2_ALG_NULL;
    return pub;
  }
  case KeyKind::k_hmac: {
    TPM2B_PUBLIC pub = base(TPM2_ALG_KEYEDHASH, k_key_attrs & ~TPMA_OBJECT_DECRYPT);
    auto& scheme = pub.publicArea.parameters.keyedHashDetail.scheme;
    scheme.scheme = TPM2_ALG_HMAC;
    scheme.details.hmac.hashAlg = alg.hash;
    return pub;
  }
  }
  return {};
}

TPM2B_PUBLIC
seal_template()
{
  TPM2B_PUBLIC pub = base(TPM2_ALG_KEYEDHASH, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                                | TPMA_OBJECT_USERWITHAUTH);
  pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  return pub;
}

const std::vector<std::string>&
primary_template_names()
{
  static const std::vector<std::string> k_names = {"tpm2-tools-default", "tpm2-tools-ecc-default",
                                                   "tss2-engine-key"};
  return k_names;
}

std::optional<TPM2B_PUBLIC>
primary_template(std::string_view name)
{
  if (name == "tpm2-tools-default") {
    return rsa_storage();
  }
  if (name == "tpm2-tools-ecc-default") {
    return ecc_storage(k_storage_attrs);
  }
  if (name == "tss2-engine-key") {
    // The library picks ECC when the TPM has it; every TPM we support does.
    return ecc_storage(k_storage_attrs | TPMA_OBJECT_NODA);
  }
  return std::nullopt;
}

TPM2B_PUBLIC
salt_key_template()
{
  return ecc_storage(k_storage_attrs | TPMA_OBJECT_NODA);
}

} // namespace ptool::tpm
