// SPDX-License-Identifier: BSD-2-Clause
#include "core/crypto/pk.hpp"

#include <string>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::crypto {

namespace {

const EVP_MD*
md_by_name(std::string_view md)
{
  const EVP_MD* m = EVP_get_digestbyname(std::string(md).c_str());
  if (!m) {
    throw Error(ExitCode::k_unsupported, "unknown digest " + std::string(md));
  }
  return m;
}

// MGF1 (RFC 8017 B.2.1) of `len` bytes.
Bytes
mgf1(const EVP_MD* md, std::span<const uint8_t> seed, size_t len)
{
  Bytes out;
  for (uint32_t counter = 0; out.size() < len; ++counter) {
    Bytes block(seed.begin(), seed.end());
    for (int shift = 24; shift >= 0; shift -= 8) {
      block.push_back(static_cast<uint8_t>(counter >> shift));
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (EVP_Digest(block.data(), block.size(), h, &hl, md, nullptr) != 1) {
      throw Error(ExitCode::k_general, "OpenSSL digest failed");
    }
    out.insert(out.end(), h, h + hl);
  }
  out.resize(len);
  return out;
}

} // namespace

Bytes
digest(std::string_view md, std::span<const uint8_t> data)
{
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hl = 0;
  if (EVP_Digest(data.data(), data.size(), h, &hl, md_by_name(md), nullptr) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL digest failed");
  }
  return Bytes(h, h + hl);
}

size_t
digest_size(std::string_view md)
{
  return static_cast<size_t>(EVP_MD_get_size(md_by_name(md)));
}

Bytes
pkcs1_type1_pad(std::span<const uint8_t> data, size_t k)
{
  if (data.size() + 11 > k) {
    throw Error(ExitCode::k_usage, "data too long for PKCS#1 v1.5 padding");
  }
  Bytes em(k, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - data.size() - 1] = 0x00;
  std::copy(data.begin(), data.end(), em.end() - static_cast<ptrdiff_t>(data.size()));
  return em;
}

Bytes
pss_encode(std::string_view md_name, std::span<const uint8_t> mhash, size_t salt_len,
           size_t mod_bits)
{
  const EVP_MD* md = md_by_name(md_name);
  size_t hlen = static_cast<size_t>(EVP_MD_get_size(md));
  size_t em_bits = mod_bits - 1;
  size_t em_len = (em_bits + 7) / 8;
  if (mhash.size() != hlen || em_len < hlen + salt_len + 2) {
    throw Error(ExitCode::k_usage, "RSA-PSS: wrong hash length or salt too long for the key");
  }
  Bytes salt(salt_len);
  if (salt_len) {
    SecureBytes r = random_bytes(salt_len);
    std::copy(r.begin(), r.end(), salt.begin());
  }
  Bytes m_prime(8, 0);
  m_prime.insert(m_prime.end(), mhash.begin(), mhash.end());
  m_prime.insert(m_prime.end(), salt.begin(), salt.end());
  Bytes h = digest(md_name, m_prime);
  size_t db_len = em_len - hlen - 1;
  Bytes db(db_len, 0);
  db[db_len - salt_len - 1] = 0x01;
  std::copy(salt.begin(), salt.end(), db.end() - static_cast<ptrdiff_t>(salt_len));
  Bytes mask = mgf1(md, h, db_len);
  for (size_t i = 0; i < db_len; ++i) {
    db[i] ^= mask[i];
  }
  // Clear the leftmost 8*emLen - emBits bits so the block is below the modulus.
  db[0] &= static_cast<uint8_t>(0xff >> (8 * em_len - em_bits));
  Bytes em = db;
  em.insert(em.end(), h.begin(), h.end());
  em.push_back(0xbc);
  // Raw RSA works on modulus-sized blocks; em_len is one shorter when mod_bits % 8 == 1.
  size_t k = (mod_bits + 7) / 8;
  em.insert(em.begin(), k - em.size(), 0);
  return em;
}

std::optional<SecureBytes>
oaep_decode(std::string_view md_name, std::span<const uint8_t> em, std::span<const uint8_t> label)
{
  const EVP_MD* md = md_by_name(md_name);
  size_t hlen = static_cast<size_t>(EVP_MD_get_size(md));
  size_t k = em.size();
  if (k < 2 * hlen + 2) {
    return std::nullopt;
  }
  Bytes lhash = digest(md_name, label);
  std::span<const uint8_t> masked_seed = em.subspan(1, hlen);
  std::span<const uint8_t> masked_db = em.subspan(1 + hlen);
  Bytes seed = mgf1(md, masked_db, hlen);
  for (size_t i = 0; i < hlen; ++i) {
    seed[i] ^= masked_seed[i];
  }
  Bytes mask = mgf1(md, seed, masked_db.size());
  SecureBytes db(masked_db.begin(), masked_db.end());
  for (size_t i = 0; i < db.size(); ++i) {
    db[i] ^= mask[i];
  }
  OPENSSL_cleanse(seed.data(), seed.size());
  // Check everything before deciding, so the failure reason does not leak through timing.
  unsigned bad = em[0];
  bad |= static_cast<unsigned>(CRYPTO_memcmp(db.data(), lhash.data(), hlen) != 0);
  size_t one = 0;
  unsigned found = 0;
  for (size_t i = hlen; i < db.size(); ++i) {
    unsigned is_one = db[i] == 0x01;
    unsigned is_zero = db[i] == 0x00;
    unsigned first = is_one & !found;
    one = first ? i : one;
    bad |= !found & !is_one & !is_zero;
    found |= is_one;
  }
  if (bad || !found) {
    return std::nullopt;
  }
  return SecureBytes(db.begin() + static_cast<ptrdiff_t>(one) + 1, db.end());
}

bool
verify(EVP_PKEY* key, SigKind kind, std::string_view md, size_t salt_len,
       std::span<const uint8_t> tbs, std::span<const uint8_t> sig)
{
  Bytes der;
  std::span<const uint8_t> to_check = sig;
  if (kind == SigKind::k_ecdsa_raw) {
    // OpenSSL verifies DER ECDSA-Sig-Value; PKCS#11 carries r || s.
    if (sig.empty() || sig.size() % 2) {
      return false;
    }
    size_t half = sig.size() / 2;
    CHandle<ECDSA_SIG, ECDSA_SIG_free> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      throw Error(ExitCode::k_general, "OpenSSL could not build an ECDSA signature");
    }
    unsigned char* p = nullptr;
    int n = i2d_ECDSA_SIG(es.get(), &p);
    if (n <= 0) {
      throw Error(ExitCode::k_general, "OpenSSL could not encode an ECDSA signature");
    }
    der.assign(p, p + n);
    OPENSSL_free(p);
    to_check = der;
  }
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL could not set up verification");
  }
  bool ok = true;
  if (kind == SigKind::k_rsa_pkcs1) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
  } else if (kind == SigKind::k_rsa_pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) == 1
         && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), static_cast<int>(salt_len)) == 1;
  }
  if (ok && !md.empty()) {
    ok = EVP_PKEY_CTX_set_signature_md(ctx.get(), md_by_name(md)) == 1;
  }
  if (!ok) {
    throw Error(ExitCode::k_general, "OpenSSL could not set the signature parameters");
  }
  return EVP_PKEY_verify(ctx.get(), to_check.data(), to_check.size(), tbs.data(), tbs.size()) == 1;
}

} // namespace ptool::crypto
