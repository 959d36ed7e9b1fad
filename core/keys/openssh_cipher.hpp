// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/secure_bytes.hpp"

namespace ptool::keys {

// The encrypted part of an "openssh-key-v1" file, as read from it.
struct OpensshSealed
{
  std::string cipher; // e.g. "aes256-ctr", "none"
  std::string kdf;    // "bcrypt" or "none"
  std::span<const uint8_t> kdf_options;
  std::span<const uint8_t> ciphertext; // the private section
  std::span<const uint8_t> trailer;    // what follows it: the AEAD tag for GCM and ChaCha20
};

// Default upper bound on the bcrypt work factor we accept from a file: high enough for any
// key ssh-keygen users make on purpose (its default is 16), low enough that a hostile file
// cannot keep us busy for hours.
inline constexpr uint32_t k_max_kdf_rounds = 1024;

// Decrypts the private section with the passphrase (bcrypt_pbkdf, then the named cipher:
// aes{128,192,256}-{ctr,cbc}, aes{128,256}-gcm@openssh.com,
// chacha20-poly1305@openssh.com). Throws Error: k_auth when the passphrase is missing or an
// AEAD tag does not verify (wrong passphrase), k_unsupported for other ciphers or KDFs,
// k_usage for malformed parameters. Ciphers without a tag are checked by the caller (the
// two check integers at the start of the section).
SecureBytes openssh_decrypt(const OpensshSealed& sealed,
                            const std::optional<SecureBytes>& passphrase,
                            uint32_t max_rounds = k_max_kdf_rounds);

} // namespace ptool::keys
