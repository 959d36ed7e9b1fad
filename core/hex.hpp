// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/secure_bytes.hpp"

namespace ptool {

using Bytes = std::vector<uint8_t>;

// Lowercase hex of `data`.
std::string to_hex(std::span<const uint8_t> data);
inline std::string
to_hex(std::string_view s)
{
  return to_hex(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
// Lowercase hex of a secret, kept in wiped memory.
SecureBytes to_secure_hex(std::span<const uint8_t> data);
// "0x" and eight lowercase hex digits: how TPM handles and NV indices are shown.
std::string hex32(uint32_t v);
// Decodes even-length hex (either case); nullopt on any other input.
std::optional<Bytes> from_hex(std::string_view hex);

inline Bytes
to_bytes(std::string_view s)
{
  return Bytes(s.begin(), s.end());
}
inline std::string
to_string(std::span<const uint8_t> b)
{
  return std::string(b.begin(), b.end());
}

} // namespace ptool
