// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/hex.hpp"
#include "core/keys/openssh_cipher.hpp"
#include "core/secure_bytes.hpp"

namespace ptool::keys {

// A software private key reduced to what TPM2_Import needs.
struct PlainKey
{
  enum class Kind { k_rsa, k_ec, k_hmac };
  Kind kind = Kind::k_rsa;
  // RSA
  Bytes modulus;
  uint32_t exponent = 65537;
  SecureBytes prime; // one prime factor (the TPM derives the rest)
  // EC
  std::string curve; // OpenSSL group name, e.g. "prime256v1"
  Bytes x;
  Bytes y;
  SecureBytes scalar; // d, padded to the field size
  // HMAC (raw key bytes)
  SecureBytes secret;
};

// Decodes an RSA or EC private key from PEM (PKCS#1/SEC1/PKCS#8, encrypted or not), DER, or
// OpenSSH's "openssh-key-v1" format (encrypted with bcrypt_pbkdf too). `passphrase` decrypts
// encrypted files; `max_kdf_rounds` bounds the bcrypt work factor an OpenSSH file may ask for.
// Errors: wrong/missing passphrase -> k_auth; unsupported key types -> k_unsupported; unreadable
// input -> k_usage.
PlainKey decode_private_key(std::span<const uint8_t> file,
                            const std::optional<SecureBytes>& passphrase,
                            uint32_t max_kdf_rounds = k_max_kdf_rounds);

} // namespace ptool::keys
