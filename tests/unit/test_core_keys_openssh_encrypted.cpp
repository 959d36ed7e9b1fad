// SPDX-License-Identifier: BSD-2-Clause
// Passphrase-protected OpenSSH private keys: bcrypt_pbkdf against known answers, and files
// written by the real ssh-keygen with every cipher it offers, decoded by decode_private_key.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/crypto/bcrypt_pbkdf.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/keys/private_key_codec.hpp"
#include "tests/unit/key_helpers.hpp"
#include "tests/unit/unit_helpers.hpp"

namespace ptool {
namespace {

std::string
kdf_hex(std::string_view pass, std::string_view salt, uint32_t rounds, size_t n)
{
  auto bytes = [](std::string_view s) {
    return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  SecureBytes out = crypto::bcrypt_pbkdf(bytes(pass), bytes(salt), rounds, n);
  return to_hex(out);
}

// Expected values computed with python3-bcrypt's bcrypt.kdf (an independent implementation,
// the one OpenSSH's own is derived from), e.g.
//   python3 -c "import bcrypt; print(bcrypt.kdf(b'password', b'salt', 32, 4).hex())"
TEST(BcryptPbkdf, MatchesIndependentImplementation)
{
  EXPECT_EQ(kdf_hex("password", "salt", 4, 32),
            "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9");
  // 48 bytes: AES-256-CTR key + IV, the ssh-keygen default; output spread over two blocks.
  EXPECT_EQ(kdf_hex("correct horse", "0123456789abcdef", 16, 48),
            "a1c2879278f7e16f30578823fd9fb40348ed786a6e23033da5c7a193b7732d71"
            "bfa8e1cd182c9aa0d87c3ef53911eb76");
  EXPECT_EQ(kdf_hex("p\xc3\xa4ss", "NaCl", 2, 64),
            "adc261b467b7ff336320be3c4e0b715c4814191df9de6998326da5fba79fe799"
            "969381c48cea3e02981b8efaff1684ab8e1e4010be3d5fca0642b6a120a4feed");
  EXPECT_EQ(kdf_hex("x", "y", 1, 1), "8f");
}

TEST(BcryptPbkdf, RejectsInvalidParameters)
{
  EXPECT_THROW(kdf_hex("pw", "salt", 0, 32), Error);
  EXPECT_THROW(kdf_hex("pw", "", 1, 32), Error);
  EXPECT_THROW(kdf_hex("pw", "salt", 1, 0), Error);
  EXPECT_THROW(kdf_hex("pw", "salt", 1, 2000), Error);
}

class EncryptedOpensshKey : public ::testing::Test
{
protected:
  void SetUp() override
  {
    if (!test::have_ssh_keygen()) {
      FAIL() << "ssh-keygen not installed (scripts/install-deps installs openssh-client)";
    }
  }

  // Writes a new ssh-keygen key protected by `pass` with `cipher` and `rounds`, and a
  // decrypted copy of the same key; returns both files' bytes.
  std::pair<Bytes, Bytes> make(const std::string& type, const std::string& cipher, int rounds)
  {
    auto enc = m_dir.path() / ("k_" + type + "_" + std::to_string(m_count));
    auto plain = m_dir.path() / ("p_" + type + "_" + std::to_string(m_count++));
    std::string gen = "ssh-keygen -q -t " + type + " -N '" + k_pass + "' -Z " + cipher + " -a "
                      + std::to_string(rounds) + " -f '" + enc.string() + "' -C test";
    EXPECT_EQ(std::system(gen.c_str()), 0) << gen;
    std::string copy = "cp '" + enc.string() + "' '" + plain.string() + "' && ssh-keygen -q -p -P '"
                       + k_pass + "' -N '' -f '" + plain.string() + "' >/dev/null";
    EXPECT_EQ(std::system(copy.c_str()), 0) << copy;
    auto bytes = [](const std::filesystem::path& p) {
      std::string s = test::read_text(p);
      return Bytes(s.begin(), s.end());
    };
    return {bytes(enc), bytes(plain)};
  }

  static std::optional<SecureBytes> pass(std::string_view p) { return SecureBytes::from(p); }

  static constexpr const char* k_pass = "s3cret passphrase";
  test::TempDir m_dir;
  int m_count = 0;
};

void
expect_same_key(const keys::PlainKey& a, const keys::PlainKey& b)
{
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.modulus, b.modulus);
  EXPECT_EQ(a.exponent, b.exponent);
  EXPECT_EQ(a.prime, b.prime);
  EXPECT_EQ(a.curve, b.curve);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.scalar, b.scalar);
}

TEST_F(EncryptedOpensshKey, EveryOpensshCipherDecrypts)
{
  for (const char* cipher :
       {"aes256-ctr", "aes192-ctr", "aes128-ctr", "aes256-cbc", "aes192-cbc", "aes128-cbc",
        "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"}) {
    SCOPED_TRACE(cipher);
    auto [enc, plain] = make("ecdsa", cipher, 2);
    keys::PlainKey want = keys::decode_private_key(plain, std::nullopt);
    ASSERT_FALSE(want.scalar.empty());
    expect_same_key(keys::decode_private_key(enc, pass(k_pass)), want);
  }
}

TEST_F(EncryptedOpensshKey, RsaAndEveryCurve)
{
  for (std::string type : {"rsa -b 2048", "ecdsa -b 256", "ecdsa -b 384", "ecdsa -b 521"}) {
    SCOPED_TRACE(type);
    auto [enc, plain] = make(type, "aes256-ctr", 4);
    expect_same_key(keys::decode_private_key(enc, pass(k_pass)),
                    keys::decode_private_key(plain, std::nullopt));
  }
}

ExitCode
failure(const Bytes& file, const std::optional<SecureBytes>& pw,
        uint32_t max_rounds = keys::k_max_kdf_rounds)
{
  try {
    keys::decode_private_key(file, pw, max_rounds);
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::k_ok;
}

TEST_F(EncryptedOpensshKey, WrongOrMissingPassphraseIsAnAuthError)
{
  for (const char* cipher :
       {"aes256-ctr", "aes256-cbc", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"}) {
    SCOPED_TRACE(cipher);
    Bytes enc = make("ecdsa", cipher, 1).first;
    EXPECT_EQ(failure(enc, pass("wrong")), ExitCode::k_auth);
    EXPECT_EQ(failure(enc, pass("")), ExitCode::k_auth);
    EXPECT_EQ(failure(enc, std::nullopt), ExitCode::k_auth);
  }
}

TEST_F(EncryptedOpensshKey, RefusesMoreRoundsThanTheLimit)
{
  Bytes enc = make("ecdsa", "aes256-ctr", 16).first;
  EXPECT_EQ(failure(enc, pass(k_pass), 8), ExitCode::k_unsupported);
  EXPECT_EQ(failure(enc, pass(k_pass), 16), ExitCode::k_ok);
}

TEST_F(EncryptedOpensshKey, UnknownCipherIsUnsupported)
{
  Bytes enc = make("ecdsa", "3des-cbc", 1).first;
  EXPECT_EQ(failure(enc, pass(k_pass)), ExitCode::k_unsupported);
}

} // namespace
} // namespace ptool
