// SPDX-License-Identifier: BSD-2-Clause
#include "core/hex.hpp"

#include <cstdio>

namespace ptool {

std::string
to_hex(std::span<const uint8_t> data)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 0xf]);
  }
  return out;
}

SecureBytes
to_secure_hex(std::span<const uint8_t> data)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  SecureBytes out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(static_cast<uint8_t>(k_digits[b >> 4]));
    out.push_back(static_cast<uint8_t>(k_digits[b & 0xf]));
  }
  return out;
}

std::string
hex32(uint32_t v)
{
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

static int
nibble(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::optional<Bytes>
from_hex(std::string_view hex)
{
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  Bytes out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

} // namespace ptool
