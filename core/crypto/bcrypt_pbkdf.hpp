// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <span>

#include "core/secure_bytes.hpp"

namespace ptool::crypto {

// OpenSSH's key-derivation function for passphrase-protected "openssh-key-v1" files: a
// PBKDF2-like construction whose PRF is an expensive Blowfish key schedule (eksblowfish)
// over SHA-512 digests. OpenSSL has no implementation, so we carry our own. `rounds` is
// the work factor stored in the key file (ssh-keygen -a, default 16); each round costs a
// few milliseconds per 32 bytes of output. Throws Error(k_usage) on rounds == 0 or
// out_len outside 1..1024.
SecureBytes bcrypt_pbkdf(std::span<const uint8_t> passphrase, std::span<const uint8_t> salt,
                         uint32_t rounds, size_t out_len);

} // namespace ptool::crypto
