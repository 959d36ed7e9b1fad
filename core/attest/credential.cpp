// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/credential.hpp"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "core/attest/public.hpp"
#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::attest {

namespace {

void
put_u32(SecureBytes& out, uint32_t v)
{
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

template<typename B>
void
append(B& out, std::span<const uint8_t> in)
{
  out.insert(out.end(), in.begin(), in.end());
}

void
append(SecureBytes& out, std::string_view s)
{
  out.insert(out.end(), s.begin(), s.end());
}

[[noreturn]] void
openssl_failed(const char* what)
{
  throw Error(ExitCode::k_general, std::string("OpenSSL failed in MakeCredential: ") + what);
}

SecureBytes
hmac(TPM2_ALG_ID hash, std::span<const uint8_t> key, std::span<const uint8_t> data)
{
  SecureBytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!HMAC(tpm_md(hash), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
            out.data(), &n)) {
    openssl_failed("HMAC");
  }
  out.resize(n);
  return out;
}

size_t
digest_size(TPM2_ALG_ID hash)
{
  return static_cast<size_t>(EVP_MD_get_size(tpm_md(hash)));
}

void
check_ek(const TPMT_PUBLIC& ek)
{
  const TPMT_SYM_DEF_OBJECT& sym =
    ek.type == TPM2_ALG_RSA ? ek.parameters.rsaDetail.symmetric : ek.parameters.eccDetail.symmetric;
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  if ((ek.type != TPM2_ALG_RSA && ek.type != TPM2_ALG_ECC) || (ek.objectAttributes & need) != need
      || sym.algorithm != TPM2_ALG_AES || sym.mode.aes != TPM2_ALG_CFB) {
    throw Error(ExitCode::k_unsupported,
                "the EK is not an RSA or ECC restricted decryption key with AES-CFB");
  }
}

Bytes
cfb_encrypt(std::span<const uint8_t> key, std::span<const uint8_t> plain)
{
  const EVP_CIPHER* cipher = key.size() == 16   ? EVP_aes_128_cfb128()
                             : key.size() == 32 ? EVP_aes_256_cfb128()
                                                : nullptr;
  if (!cipher) {
    throw Error(ExitCode::k_unsupported, "unsupported EK symmetric key size");
  }
  const uint8_t iv[16] = {};
  Bytes out(plain.size() + 16);
  int len = 0;
  int fin = 0;
  EvpCipherCtx c(EVP_CIPHER_CTX_new());
  if (!c || EVP_EncryptInit_ex(c.get(), cipher, nullptr, key.data(), iv) != 1
      || EVP_EncryptUpdate(c.get(), out.data(), &len, plain.data(), static_cast<int>(plain.size()))
           != 1
      || EVP_EncryptFinal_ex(c.get(), out.data() + len, &fin) != 1) {
    openssl_failed("AES-CFB");
  }
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// RSA: a random seed, OAEP-encrypted to the EK with the EK's name algorithm and the label
// "IDENTITY\0".
SecureBytes
rsa_seed(const TPMT_PUBLIC& ek, TPM2B_ENCRYPTED_SECRET& out)
{
  SecureBytes seed = crypto::random_bytes(digest_size(ek.nameAlg));
  EvpPkey key = public_key(ek);
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  static const char k_label[] = "IDENTITY"; // sizeof includes the terminating zero
  // OpenSSL takes ownership of the label buffer.
  auto* label = static_cast<unsigned char*>(OPENSSL_memdup(k_label, sizeof(k_label)));
  size_t len = sizeof(out.secret);
  if (!ctx || !label || EVP_PKEY_encrypt_init(ctx.get()) != 1
      || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1
      || EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), tpm_md(ek.nameAlg)) != 1
      || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), tpm_md(ek.nameAlg)) != 1
      || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof(k_label)) != 1) {
    OPENSSL_free(label);
    openssl_failed("RSA-OAEP setup");
  }
  if (EVP_PKEY_encrypt(ctx.get(), out.secret, &len, seed.data(), seed.size()) != 1) {
    openssl_failed("RSA-OAEP");
  }
  out.size = static_cast<UINT16>(len);
  return seed;
}

// ECC: a one-time key pair on the EK's curve; Z = x(d_e * Q_EK); the seed is
// KDFe(nameAlg, Z, "IDENTITY", x(Q_e), x(Q_EK)); the secret is Q_e as a TPMS_ECC_POINT.
SecureBytes
ecc_seed(const TPMT_PUBLIC& ek, TPM2B_ENCRYPTED_SECRET& out)
{
  EvpPkey peer = public_key(ek);
  char group[64] = {};
  size_t group_len = 0;
  if (!EVP_PKEY_get_utf8_string_param(peer.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                      &group_len)) {
    openssl_failed("EC group");
  }
  EvpPkey eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
  if (!eph) {
    openssl_failed("EC key generation");
  }
  EvpPkeyCtx dctx(EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr));
  size_t zlen = 0;
  if (!dctx || EVP_PKEY_derive_init(dctx.get()) != 1
      || EVP_PKEY_derive_set_peer(dctx.get(), peer.get()) != 1
      || EVP_PKEY_derive(dctx.get(), nullptr, &zlen) != 1) {
    openssl_failed("ECDH setup");
  }
  SecureBytes z(zlen);
  if (EVP_PKEY_derive(dctx.get(), z.data(), &zlen) != 1) {
    openssl_failed("ECDH");
  }
  z.resize(zlen);
  Bytes point(133);
  size_t plen = 0;
  if (!EVP_PKEY_get_octet_string_param(eph.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size(), &plen)
      || plen < 3 || point[0] != 0x04) {
    openssl_failed("EC point");
  }
  const size_t field = (plen - 1) / 2;
  TPMS_ECC_POINT q{};
  q.x.size = static_cast<UINT16>(field);
  q.y.size = static_cast<UINT16>(field);
  std::memcpy(q.x.buffer, point.data() + 1, field);
  std::memcpy(q.y.buffer, point.data() + 1 + field, field);
  size_t offset = 0;
  tpm::check_rc(Tss2_MU_TPMS_ECC_POINT_Marshal(&q, out.secret, sizeof(out.secret), &offset),
                "Tss2_MU_TPMS_ECC_POINT_Marshal");
  out.size = static_cast<UINT16>(offset);
  const auto& ek_x = ek.unique.ecc.x;
  return kdfe(ek.nameAlg, z, "IDENTITY", std::span(q.x.buffer, q.x.size),
              std::span(ek_x.buffer, ek_x.size), digest_size(ek.nameAlg) * 8);
}

} // namespace

SecureBytes
kdfa(TPM2_ALG_ID hash, std::span<const uint8_t> key, std::string_view label,
     std::span<const uint8_t> context_u, std::span<const uint8_t> context_v, size_t bits)
{
  SecureBytes out;
  const size_t bytes = (bits + 7) / 8;
  for (uint32_t counter = 1; out.size() < bytes; ++counter) {
    SecureBytes msg;
    put_u32(msg, counter);
    append(msg, label);
    msg.push_back(0);
    append(msg, context_u);
    append(msg, context_v);
    put_u32(msg, static_cast<uint32_t>(bits));
    SecureBytes block = hmac(hash, key, msg);
    out.insert(out.end(), block.begin(), block.end());
  }
  out.resize(bytes);
  return out;
}

SecureBytes
kdfe(TPM2_ALG_ID hash, std::span<const uint8_t> z, std::string_view label,
     std::span<const uint8_t> party_u, std::span<const uint8_t> party_v, size_t bits)
{
  SecureBytes out;
  const size_t bytes = (bits + 7) / 8;
  for (uint32_t counter = 1; out.size() < bytes; ++counter) {
    SecureBytes msg;
    put_u32(msg, counter);
    append(msg, z);
    append(msg, label);
    msg.push_back(0);
    append(msg, party_u);
    append(msg, party_v);
    Bytes d = tpm_hash(hash, msg);
    out.insert(out.end(), d.begin(), d.end());
    OPENSSL_cleanse(d.data(), d.size());
  }
  out.resize(bytes);
  return out;
}

MadeCredential
make_credential(const TPMT_PUBLIC& ek, std::span<const uint8_t> object_name,
                std::span<const uint8_t> credential)
{
  check_ek(ek);
  if (credential.empty() || credential.size() > digest_size(ek.nameAlg)) {
    throw Error(ExitCode::k_usage, "credential size does not fit the EK's name algorithm");
  }
  TPM2B_ENCRYPTED_SECRET secret{};
  SecureBytes seed = ek.type == TPM2_ALG_RSA ? rsa_seed(ek, secret) : ecc_seed(ek, secret);

  const TPMT_SYM_DEF_OBJECT& sym =
    ek.type == TPM2_ALG_RSA ? ek.parameters.rsaDetail.symmetric : ek.parameters.eccDetail.symmetric;
  SecureBytes sym_key = kdfa(ek.nameAlg, seed, "STORAGE", object_name, {}, sym.keyBits.aes);
  SecureBytes hmac_key = kdfa(ek.nameAlg, seed, "INTEGRITY", {}, {}, digest_size(ek.nameAlg) * 8);

  // encIdentity = CFB(symKey, IV = 0, TPM2B_DIGEST(credential)).
  SecureBytes plain;
  plain.push_back(static_cast<uint8_t>(credential.size() >> 8));
  plain.push_back(static_cast<uint8_t>(credential.size()));
  append(plain, credential);
  Bytes enc_identity = cfb_encrypt(sym_key, plain);
  SecureBytes mac_in(enc_identity.begin(), enc_identity.end());
  append(mac_in, object_name);
  SecureBytes integrity = hmac(ek.nameAlg, hmac_key, mac_in);

  MadeCredential out;
  const size_t inner = 2 + integrity.size() + enc_identity.size();
  out.id_object = {static_cast<uint8_t>(inner >> 8), static_cast<uint8_t>(inner),
                   static_cast<uint8_t>(integrity.size() >> 8),
                   static_cast<uint8_t>(integrity.size())};
  append(out.id_object, integrity);
  append(out.id_object, enc_identity);
  out.encrypted_secret.resize(sizeof(TPM2B_ENCRYPTED_SECRET));
  size_t offset = 0;
  tpm::check_rc(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&secret, out.encrypted_secret.data(),
                                                       out.encrypted_secret.size(), &offset),
                "Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal");
  out.encrypted_secret.resize(offset);
  return out;
}

} // namespace ptool::attest
