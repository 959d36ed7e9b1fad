// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/openssh_cipher.hpp"

#include <array>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/c_handles.hpp"
#include "core/crypto/bcrypt_pbkdf.hpp"
#include "core/error.hpp"

namespace ptool::keys {

namespace {

using EvpMac = CHandle<EVP_MAC, EVP_MAC_free>;
using EvpMacCtx = CHandle<EVP_MAC_CTX, EVP_MAC_CTX_free>;

enum class Mode { k_ctr, k_cbc, k_gcm, k_chacha };

struct CipherSpec
{
  const char* name;
  Mode mode;
  size_t key_len;
  size_t iv_len;
};

constexpr CipherSpec k_ciphers[] = {
  {"aes128-ctr", Mode::k_ctr, 16, 16},
  {"aes192-ctr", Mode::k_ctr, 24, 16},
  {"aes256-ctr", Mode::k_ctr, 32, 16},
  {"aes128-cbc", Mode::k_cbc, 16, 16},
  {"aes192-cbc", Mode::k_cbc, 24, 16},
  {"aes256-cbc", Mode::k_cbc, 32, 16},
  {"aes128-gcm@openssh.com", Mode::k_gcm, 16, 12},
  {"aes256-gcm@openssh.com", Mode::k_gcm, 32, 12},
  {"chacha20-poly1305@openssh.com", Mode::k_chacha, 64, 0},
};

constexpr size_t k_tag_len = 16;

[[noreturn]] void
wrong_passphrase()
{
  throw Error(ExitCode::k_auth, "cannot decrypt the OpenSSH private key: wrong passphrase",
              "check the passphrase given with --passin");
}

[[noreturn]] void
crypto_failure()
{
  throw Error(ExitCode::k_general, "OpenSSL failed to decrypt the OpenSSH private key");
}

const EVP_CIPHER*
aes(Mode mode, size_t key_len)
{
  switch (mode) {
  case Mode::k_ctr:
    return key_len == 16   ? EVP_aes_128_ctr()
           : key_len == 24 ? EVP_aes_192_ctr()
                           : EVP_aes_256_ctr();
  case Mode::k_cbc:
    return key_len == 16   ? EVP_aes_128_cbc()
           : key_len == 24 ? EVP_aes_192_cbc()
                           : EVP_aes_256_cbc();
  default:
    return key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  }
}

// Runs `cipher` once (decrypting, no padding) over `in`. For GCM `tag` is checked.
SecureBytes
run_cipher(const EVP_CIPHER* cipher, std::span<const uint8_t> key, std::span<const uint8_t> iv,
           std::span<const uint8_t> in, std::span<const uint8_t> tag = {})
{
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) != 1) {
    crypto_failure();
  }
  if (!tag.empty()
      && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                             nullptr)
           != 1) {
    crypto_failure();
  }
  if (EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data()) != 1
      || EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    crypto_failure();
  }
  SecureBytes out(in.size() + 32);
  int n = 0;
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1) {
    crypto_failure();
  }
  if (!tag.empty()
      && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                             const_cast<uint8_t*>(tag.data()))
           != 1) {
    crypto_failure();
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    if (!tag.empty()) {
      wrong_passphrase();
    }
    crypto_failure();
  }
  out.resize(static_cast<size_t>(n + fin));
  return out;
}

// OpenSSH's chacha20-poly1305 with sequence number 0 and no additional data: the Poly1305
// key is the first keystream block of the main key (the first 32 bytes), the payload is
// encrypted from block 1 on.
SecureBytes
chacha_poly_open(std::span<const uint8_t> key, std::span<const uint8_t> in,
                 std::span<const uint8_t> tag)
{
  // OpenSSL's ChaCha20 IV is a 32-bit little-endian block counter and a 96-bit nonce.
  std::array<uint8_t, 16> iv{};
  auto main_key = key.first(32);
  std::array<uint8_t, 32> zeros{};
  SecureBytes poly_key = run_cipher(EVP_chacha20(), main_key, iv, zeros);

  EvpMac mac(EVP_MAC_fetch(nullptr, "POLY1305", nullptr));
  EvpMacCtx mctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  std::array<uint8_t, k_tag_len> expect{};
  size_t len = 0;
  if (!mctx || EVP_MAC_init(mctx.get(), poly_key.data(), poly_key.size(), nullptr) != 1
      || EVP_MAC_update(mctx.get(), in.data(), in.size()) != 1
      || EVP_MAC_final(mctx.get(), expect.data(), &len, expect.size()) != 1) {
    crypto_failure();
  }
  if (CRYPTO_memcmp(expect.data(), tag.data(), k_tag_len) != 0) {
    wrong_passphrase();
  }
  iv[0] = 1;
  return run_cipher(EVP_chacha20(), main_key, iv, in);
}

uint32_t
be32(std::span<const uint8_t> b, size_t at)
{
  return static_cast<uint32_t>(b[at]) << 24 | static_cast<uint32_t>(b[at + 1]) << 16
         | static_cast<uint32_t>(b[at + 2]) << 8 | b[at + 3];
}

} // namespace

SecureBytes
openssh_decrypt(const OpensshSealed& sealed, const std::optional<SecureBytes>& passphrase,
                uint32_t max_rounds)
{
  const CipherSpec* spec = nullptr;
  for (const auto& c : k_ciphers) {
    if (sealed.cipher == c.name) {
      spec = &c;
    }
  }
  if (spec == nullptr) {
    throw Error(ExitCode::k_unsupported,
                "OpenSSH private keys encrypted with " + sealed.cipher + " are not supported",
                "re-encrypt a copy with the default cipher: ssh-keygen -p -Z aes256-ctr -f COPY");
  }
  if (sealed.kdf != "bcrypt") {
    throw Error(ExitCode::k_unsupported,
                "OpenSSH private keys protected with the " + sealed.kdf + " KDF are not supported");
  }
  if (!passphrase) {
    throw Error(ExitCode::k_auth, "the OpenSSH private key file is encrypted",
                "give its passphrase with --passin pass:X, env:VAR or file:PATH");
  }
  // kdf options: string salt, uint32 rounds.
  auto opts = sealed.kdf_options;
  if (opts.size() < 4 || opts.size() - 4 < be32(opts, 0) + size_t{4}) {
    throw_usage("corrupt OpenSSH private key (bcrypt options)");
  }
  auto salt = opts.subspan(4, be32(opts, 0));
  uint32_t rounds = be32(opts, 4 + salt.size());
  if (rounds > max_rounds) {
    throw Error(ExitCode::k_unsupported,
                "the OpenSSH key asks for " + std::to_string(rounds) + " bcrypt rounds; more than "
                  + std::to_string(max_rounds) + " are refused",
                "re-encrypt a copy with fewer rounds: ssh-keygen -p -a 64 -f COPY");
  }
  size_t block = spec->mode == Mode::k_chacha ? 8 : 16;
  bool aead = spec->mode == Mode::k_gcm || spec->mode == Mode::k_chacha;
  if (sealed.ciphertext.empty() || sealed.ciphertext.size() % block != 0
      || (aead && sealed.trailer.size() < k_tag_len)) {
    throw_usage("corrupt OpenSSH private key (encrypted section has the wrong length)");
  }
  SecureBytes material =
    crypto::bcrypt_pbkdf(*passphrase, salt, rounds, spec->key_len + spec->iv_len);
  auto key = std::span<const uint8_t>(material).first(spec->key_len);
  auto iv = std::span<const uint8_t>(material).subspan(spec->key_len);
  auto tag = aead ? sealed.trailer.first(k_tag_len) : std::span<const uint8_t>{};
  if (spec->mode == Mode::k_chacha) {
    return chacha_poly_open(key, sealed.ciphertext, tag);
  }
  return run_cipher(aes(spec->mode, spec->key_len), key, iv, sealed.ciphertext, tag);
}

} // namespace ptool::keys
