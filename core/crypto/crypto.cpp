// SPDX-License-Identifier: BSD-2-Clause
#include "core/crypto/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::crypto {

namespace {
constexpr size_t k_iv_len = 12;
constexpr size_t k_tag_len = 16;

[[noreturn]] void
openssl_fail(const char* what)
{
  throw Error(ExitCode::k_general, std::string("OpenSSL ") + what + " failed");
}
} // namespace

SecureBytes
random_bytes(size_t n)
{
  SecureBytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    openssl_fail("RAND_bytes");
  }
  return out;
}

SecureBytes
random_hex(size_t n)
{
  return to_secure_hex(random_bytes(n));
}

Bytes
sha256(std::span<const uint8_t> data)
{
  Bytes md(32);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    openssl_fail("SHA-256");
  }
  return md;
}

SecureBytes
hash_pass(std::span<const uint8_t> pin, std::string_view salt)
{
  SecureBytes input(pin.begin(), pin.end());
  input.insert(input.end(), salt.begin(), salt.end());
  SecureBytes md(32);
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    openssl_fail("SHA-256");
  }
  return to_secure_hex(std::span(md.data(), 16));
}

std::string
wrap_auth(std::span<const uint8_t> key, std::span<const uint8_t> plaintext)
{
  if (key.size() != 32) {
    throw Error(ExitCode::k_general, "wrapping key has the wrong length");
  }
  SecureBytes iv = random_bytes(k_iv_len);
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes ct(plaintext.size() + 16);
  Bytes tag(k_tag_len);
  int len = 0;
  int total = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data()) != 1
      || EVP_EncryptUpdate(ctx.get(), ct.data(), &len, plaintext.data(),
                           static_cast<int>(plaintext.size()))
           != 1) {
    openssl_fail("AES-GCM encrypt");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), ct.data() + total, &len) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, k_tag_len, tag.data()) != 1) {
    openssl_fail("AES-GCM encrypt");
  }
  total += len;
  ct.resize(static_cast<size_t>(total));
  return to_hex(iv) + ":" + to_hex(tag) + ":" + to_hex(ct);
}

SecureBytes
unwrap_auth(std::span<const uint8_t> key, std::string_view wrapped)
{
  auto c1 = wrapped.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : wrapped.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    throw Error(ExitCode::k_general, "malformed wrapped object auth in the store");
  }
  auto iv = from_hex(wrapped.substr(0, c1));
  auto tag = from_hex(wrapped.substr(c1 + 1, c2 - c1 - 1));
  auto ct = from_hex(wrapped.substr(c2 + 1));
  if (!iv || !tag || !ct || iv->size() != k_iv_len || tag->size() != k_tag_len
      || key.size() != 32) {
    throw Error(ExitCode::k_general, "malformed wrapped object auth in the store");
  }
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  SecureBytes out(ct->size() + 16);
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv->data()) != 1
      || EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct->data(), static_cast<int>(ct->size()))
           != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, k_tag_len, tag->data()) != 1) {
    openssl_fail("AES-GCM decrypt");
  }
  int total = len;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + total, &len) != 1) {
    throw Error(ExitCode::k_auth, "object auth does not decrypt with this token's wrapping key",
                "the store row may belong to another token or be corrupted");
  }
  total += len;
  out.resize(static_cast<size_t>(total));
  return out;
}

} // namespace ptool::crypto
