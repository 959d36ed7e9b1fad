// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>
#include <string_view>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

namespace ptool::crypto {

// Cryptographically strong random bytes (OpenSSL's DRBG). Throws Error on failure.
SecureBytes random_bytes(size_t n);
// `n` random bytes as 2n lowercase hex characters: upstream's rand_hex_str.
SecureBytes random_hex(size_t n);

Bytes sha256(std::span<const uint8_t> data);

// Upstream's PIN -> seal-object auth: lowercase hex of the first 16 bytes of
// SHA-256(pin || salt), where the salt is used as its ASCII text (docs/store-format.md §3.1).
SecureBytes hash_pass(std::span<const uint8_t> pin, std::string_view salt);

// AES-256-GCM wrap of an object auth with the token's 32-byte wrapping key:
// "hex(iv):hex(tag):hex(ct)" with a random 12-byte IV and a 16-byte tag (§3.3).
std::string wrap_auth(std::span<const uint8_t> key, std::span<const uint8_t> plaintext);
// Inverse of wrap_auth; throws Error(k_auth) when the tag does not verify (wrong key).
SecureBytes unwrap_auth(std::span<const uint8_t> key, std::string_view wrapped);

} // namespace ptool::crypto
