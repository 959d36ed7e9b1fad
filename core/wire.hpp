// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/hex.hpp"

// Big-endian writers for the byte formats tpm2-ptool builds by hand: SSH's RFC 4251 strings
// and mpints, TPM structures ESAPI has no marshaller for, KDF counters. `B` is Bytes or
// SecureBytes (anything with push_back and insert of bytes).
namespace ptool::wire {

template<typename B>
void
put_u16(B& out, uint16_t v)
{
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

template<typename B>
void
put_u32(B& out, uint32_t v)
{
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

// RFC 4251 string: a uint32 length, then the bytes.
inline void
put_string(Bytes& out, std::span<const uint8_t> s)
{
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

inline void
put_string(Bytes& out, std::string_view s)
{
  put_string(out, std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// RFC 4251 mpint from unsigned big-endian bytes: no leading zeros, a 0x00 pad when the top
// bit is set.
inline void
put_mpint(Bytes& out, std::span<const uint8_t> value)
{
  size_t start = 0;
  while (start < value.size() && value[start] == 0) {
    ++start;
  }
  Bytes v;
  if (start < value.size() && (value[start] & 0x80)) {
    v.push_back(0);
  }
  v.insert(v.end(), value.begin() + static_cast<long>(start), value.end());
  put_string(out, v);
}

} // namespace ptool::wire
