// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/credential.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <tss2/tss2_mu.h>

#include "core/attest/public.hpp"
#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "core/wire.hpp"

namespace ptool::attest {

namespace {

using wire::put_u32;

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
  throw Error(ExitCode::k_general, std::string("OpenSSL failed: ") + what);
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

using BnCtx = CHandle<BN_CTX, BN_CTX_free>;
using EcGroup = CHandle<EC_GROUP, EC_GROUP_free>;
using EcPoint = CHandle<EC_POINT, EC_POINT_free>;

Bignum
bignum(std::span<const uint8_t> be)
{
  Bignum n(BN_bin2bn(be.data(), static_cast<int>(be.size()), nullptr));
  if (!n) {
    openssl_failed("BN_bin2bn");
  }
  return n;
}

// MGF1 (RFC 8017 B.2.1) of `seed`, XORed into `out`.
void
mgf1_xor(TPM2_ALG_ID hash, std::span<const uint8_t> seed, std::span<uint8_t> out)
{
  size_t done = 0;
  for (uint32_t counter = 0; done < out.size(); ++counter) {
    SecureBytes block(seed.begin(), seed.end());
    put_u32(block, counter);
    Bytes mask = tpm_hash(hash, block);
    for (size_t i = 0; i < mask.size() && done < out.size(); ++i) {
      out[done++] ^= mask[i];
    }
  }
}

// RSA: `secret` OAEP-encrypted (RFC 8017 7.1.1, the key's name algorithm for the label hash
// and MGF1) with `label` and its terminating zero, then raised to e mod n.
void
rsa_encrypt(const TPMT_PUBLIC& key, std::string_view label, std::span<const uint8_t> secret,
            TPM2B_ENCRYPTED_SECRET& out)
{
  const auto& modulus = key.unique.rsa;
  const size_t k = modulus.size;
  const size_t h = digest_size(key.nameAlg);
  if (k < 2 * h + 2 + secret.size() || k > sizeof(out.secret) || modulus.buffer[0] == 0) {
    throw Error(ExitCode::k_unsupported, "the TPM key's RSA modulus is too short for a salt");
  }
  SecureBytes label_z(label.begin(), label.end());
  label_z.push_back(0);
  // EM = 0x00 || maskedSeed || maskedDB, DB = lHash || zeros || 0x01 || secret.
  SecureBytes em(k, 0);
  std::span<uint8_t> seed(em.data() + 1, h);
  std::span<uint8_t> db(em.data() + 1 + h, k - h - 1);
  Bytes lhash = tpm_hash(key.nameAlg, label_z);
  std::copy(lhash.begin(), lhash.end(), db.begin());
  db[db.size() - secret.size() - 1] = 0x01;
  std::copy(secret.begin(), secret.end(), db.end() - static_cast<ptrdiff_t>(secret.size()));
  SecureBytes random = crypto::random_bytes(h);
  std::copy(random.begin(), random.end(), seed.begin());
  mgf1_xor(key.nameAlg, seed, db);
  mgf1_xor(key.nameAlg, db, seed);

  Bignum n = bignum(std::span(modulus.buffer, k));
  Bignum exp = bignum(rsa_exponent(key));
  Bignum m(BN_secure_new());
  Bignum c(BN_new());
  BnCtx ctx(BN_CTX_new());
  if (!m || !c || !ctx || !BN_bin2bn(em.data(), static_cast<int>(k), m.get())
      || BN_cmp(m.get(), n.get()) >= 0
      || BN_mod_exp(c.get(), m.get(), exp.get(), n.get(), ctx.get()) != 1
      || BN_bn2binpad(c.get(), out.secret, static_cast<int>(k)) != static_cast<int>(k)) {
    openssl_failed("RSA-OAEP");
  }
  out.size = static_cast<UINT16>(k);
}

// ECC: a one-time scalar d on the key's curve; Z = x(d * Q_key); the secret is
// KDFe(nameAlg, Z, label, x(d * G), x(Q_key)); the encrypted secret is d * G as a
// TPMS_ECC_POINT.
SecureBytes
ecc_exchange(const TPMT_PUBLIC& key, std::string_view label, TPM2B_ENCRYPTED_SECRET& out)
{
  const CurveInfo curve = curve_info(key.parameters.eccDetail.curveID);
  const size_t field = curve.bytes;
  const Bytes point = ec_point(key, field);
  BnCtx ctx(BN_CTX_new());
  EcGroup group(EC_GROUP_new_by_curve_name(EC_curve_nist2nid(curve.openssl)));
  EcPoint peer(group ? EC_POINT_new(group.get()) : nullptr);
  EcPoint eph(group ? EC_POINT_new(group.get()) : nullptr);
  EcPoint shared(group ? EC_POINT_new(group.get()) : nullptr);
  Bignum d(BN_secure_new());
  Bignum ex(BN_new());
  Bignum ey(BN_new());
  Bignum zx(BN_secure_new());
  if (!ctx || !group || !peer || !eph || !shared || !d || !ex || !ey || !zx) {
    openssl_failed("EC setup");
  }
  if (EC_POINT_oct2point(group.get(), peer.get(), point.data(), point.size(), ctx.get()) != 1
      || EC_POINT_is_on_curve(group.get(), peer.get(), ctx.get()) != 1) {
    throw Error(ExitCode::k_usage, "the ECC point in a TPM public area is not on its curve");
  }
  do {
    if (BN_priv_rand_range_ex(d.get(), EC_GROUP_get0_order(group.get()), 0, ctx.get()) != 1) {
      openssl_failed("EC scalar");
    }
  } while (BN_is_zero(d.get()));
  if (EC_POINT_mul(group.get(), eph.get(), d.get(), nullptr, nullptr, ctx.get()) != 1
      || EC_POINT_mul(group.get(), shared.get(), nullptr, peer.get(), d.get(), ctx.get()) != 1
      || EC_POINT_is_at_infinity(group.get(), shared.get())
      || EC_POINT_get_affine_coordinates(group.get(), eph.get(), ex.get(), ey.get(), ctx.get()) != 1
      || EC_POINT_get_affine_coordinates(group.get(), shared.get(), zx.get(), nullptr, ctx.get())
           != 1) {
    openssl_failed("ECDH");
  }
  SecureBytes z(field);
  TPMS_ECC_POINT q{};
  q.x.size = static_cast<UINT16>(field);
  q.y.size = static_cast<UINT16>(field);
  if (BN_bn2binpad(zx.get(), z.data(), static_cast<int>(field)) != static_cast<int>(field)
      || BN_bn2binpad(ex.get(), q.x.buffer, static_cast<int>(field)) != static_cast<int>(field)
      || BN_bn2binpad(ey.get(), q.y.buffer, static_cast<int>(field)) != static_cast<int>(field)) {
    openssl_failed("EC point");
  }
  size_t offset = 0;
  tpm::check_rc(Tss2_MU_TPMS_ECC_POINT_Marshal(&q, out.secret, sizeof(out.secret), &offset),
                "Tss2_MU_TPMS_ECC_POINT_Marshal");
  out.size = static_cast<UINT16>(offset);
  return kdfe(key.nameAlg, z, label, std::span(q.x.buffer, q.x.size),
              std::span(key.unique.ecc.x.buffer, key.unique.ecc.x.size),
              digest_size(key.nameAlg) * 8);
}

} // namespace

SecureBytes
encrypt_secret(const TPMT_PUBLIC& key, std::string_view label, TPM2B_ENCRYPTED_SECRET& out)
{
  if (key.type == TPM2_ALG_RSA) {
    SecureBytes secret = crypto::random_bytes(digest_size(key.nameAlg));
    rsa_encrypt(key, label, secret, out);
    return secret;
  }
  if (key.type == TPM2_ALG_ECC) {
    return ecc_exchange(key, label, out);
  }
  throw Error(ExitCode::k_unsupported, "the TPM key is not an RSA or ECC key");
}

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
  SecureBytes seed = encrypt_secret(ek, "IDENTITY", secret);

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
