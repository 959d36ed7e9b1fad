// SPDX-License-Identifier: BSD-2-Clause
// PIN hashing and object-auth wrapping (docs/store-format.md §3.1, §3.3).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool {
namespace {

// Independent computation of upstream's hash_pass: hex(SHA256(pin || salt)[:16]).
std::string
reference_hash_pass(std::string_view pin, std::string_view salt)
{
  std::string input = std::string(pin) + std::string(salt);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), md);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xf];
  }
  return out;
}

Bytes
key32(uint8_t fill)
{
  return Bytes(32, fill);
}

TEST(Crypto, HashPassKnownAnswer)
{
  const std::string salt = "0a363f3201b71a62fc9ad2fd07f5675fc70d42147dcc7e2d9f246c21dcfeb99b";
  for (std::string_view pin : {"user", "mysopin", "", "p\xc3\xa4ss word"}) {
    SecureBytes got = crypto::hash_pass(to_bytes(pin), salt);
    EXPECT_EQ(got.view(), reference_hash_pass(pin, salt)) << pin;
    EXPECT_EQ(got.size(), 32u);
  }
  // A fixed vector, so a change to both implementations above cannot go unnoticed:
  // SHA256("abc") = ba7816bf8f01cfea414140de5dae2223…
  EXPECT_EQ(crypto::hash_pass(to_bytes("a"), "bc").view(), "ba7816bf8f01cfea414140de5dae2223");
  // The salt is used as text, not decoded.
  EXPECT_NE(crypto::hash_pass(to_bytes("pin"), "00").view(),
            crypto::hash_pass(to_bytes("pin"), std::string_view("\0", 1)).view());
}

TEST(Crypto, Sha256AndRandom)
{
  EXPECT_EQ(to_hex(crypto::sha256(to_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  SecureBytes h = crypto::random_hex(16);
  ASSERT_EQ(h.size(), 32u);
  for (uint8_t c : h) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  }
  EXPECT_NE(crypto::random_bytes(16), crypto::random_bytes(16));
  EXPECT_TRUE(crypto::random_bytes(0).empty());
}

TEST(Crypto, WrapUnwrapRoundTripAndFormat)
{
  Bytes key = key32(0x42);
  for (size_t len : {0u, 1u, 16u, 32u, 100u}) {
    SecureBytes plain = crypto::random_hex(len / 2 + 1);
    plain.resize(len);
    std::string wrapped = crypto::wrap_auth(key, plain);
    // 24 hex (12-byte IV) ":" 32 hex (16-byte tag) ":" 2*len hex
    ASSERT_EQ(wrapped.size(), 24 + 1 + 32 + 1 + 2 * len) << wrapped;
    EXPECT_EQ(wrapped[24], ':');
    EXPECT_EQ(wrapped[57], ':');
    EXPECT_EQ(wrapped.find_first_not_of("0123456789abcdef:"), std::string::npos) << wrapped;
    EXPECT_EQ(crypto::unwrap_auth(key, wrapped), plain);
  }
  // Random IV: the same input wraps differently every time.
  Bytes auth = to_bytes("0123456789abcdef0123456789abcdef");
  EXPECT_NE(crypto::wrap_auth(key, auth), crypto::wrap_auth(key, auth));
}

TEST(Crypto, UnwrapsAnIndependentlyMadeCiphertext)
{
  // Encrypt with OpenSSL directly, as upstream's Python AESCipher does.
  Bytes key = key32(7);
  Bytes iv(12, 0x11);
  std::string plain = "5ee1c0de5ee1c0de5ee1c0de5ee1c0de";
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ASSERT_NE(ctx, nullptr);
  Bytes ct(plain.size());
  Bytes tag(16);
  int len = 0;
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data()), 1);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, ct.data(), &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())),
            1);
  ASSERT_EQ(EVP_EncryptFinal_ex(ctx, ct.data() + len, &len), 1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data()), 1);
  EVP_CIPHER_CTX_free(ctx);
  std::string wrapped = to_hex(iv) + ":" + to_hex(tag) + ":" + to_hex(ct);
  EXPECT_EQ(crypto::unwrap_auth(key, wrapped).view(), plain);
  // Upper-case hex is accepted too.
  std::string upper = wrapped;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(crypto::unwrap_auth(key, upper).view(), plain);
}

TEST(Crypto, WrongKeyIsAnAuthError)
{
  std::string wrapped = crypto::wrap_auth(key32(1), to_bytes("secret-auth"));
  try {
    crypto::unwrap_auth(key32(2), wrapped);
    FAIL() << "unwrap with the wrong key succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::k_auth);
    EXPECT_EQ(std::string(e.what()).find("secret-auth"), std::string::npos);
  }
}

TEST(Crypto, TamperedWrapIsRejected)
{
  Bytes key = key32(3);
  std::string wrapped = crypto::wrap_auth(key, to_bytes("0123456789abcdef0123456789abcdef"));
  auto flip = [](std::string s, size_t pos) {
    s[pos] = s[pos] == '0' ? '1' : '0';
    return s;
  };
  EXPECT_THROW(crypto::unwrap_auth(key, flip(wrapped, 30)), Error);                 // tag
  EXPECT_THROW(crypto::unwrap_auth(key, flip(wrapped, wrapped.size() - 1)), Error); // ct
  EXPECT_THROW(crypto::unwrap_auth(key, flip(wrapped, 0)), Error);                  // iv
  // Truncated ciphertext (one byte less)
  EXPECT_THROW(crypto::unwrap_auth(key, wrapped.substr(0, wrapped.size() - 2)), Error);
}

TEST(Crypto, MalformedWrapsAreErrors)
{
  Bytes key = key32(4);
  std::string good = crypto::wrap_auth(key, to_bytes("abc"));
  std::string iv = good.substr(0, 24);
  std::string tag = good.substr(25, 32);
  std::string ct = good.substr(58);
  for (const std::string& bad : {std::string(""), std::string("nocolons"), iv + ":" + tag,
                                 iv + tag + ct, iv + "00:" + tag + ":" + ct, // 13-byte IV
                                 iv.substr(2) + ":" + tag + ":" + ct,        // 11-byte IV
                                 iv + ":" + tag.substr(2) + ":" + ct,        // 15-byte tag
                                 iv + ":" + tag + ":" + ct + "0",            // odd hex
                                 iv + ":" + tag + ":" + "zz" + ct.substr(2), // not hex
                                 "x" + good.substr(1)}) {
    EXPECT_THROW(crypto::unwrap_auth(key, bad), Error) << bad;
  }
  // Wrong key lengths
  EXPECT_THROW(crypto::unwrap_auth(Bytes(16, 0), good), Error);
  EXPECT_THROW(crypto::wrap_auth(Bytes(31, 0), to_bytes("abc")), Error);
}

} // namespace
} // namespace ptool
