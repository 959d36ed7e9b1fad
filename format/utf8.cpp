// SPDX-License-Identifier: BSD-2-Clause
#include "format/utf8.hpp"

namespace ptool::format {

Utf8Char
decode_utf8_at(std::string_view s, size_t i)
{
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = byte(0);
  if (c < 0x80) {
    return {c, 1};
  }
  // Lead bytes C0, C1 and F5..FF never start a well-formed sequence; the second-byte ranges
  // below rule out overlong forms (E0, F0), surrogates (ED) and values past U+10FFFF (F4).
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  char32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return {c, 0};
  }
  if (i + len > s.size()) {
    return {c, 0};
  }
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = byte(k);
    unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xbf;
    if (cc < min || cc > max) {
      return {c, 0};
    }
    cp = cp << 6 | (cc & 0x3f);
  }
  return {cp, len};
}

std::optional<size_t>
first_invalid_utf8(std::string_view s)
{
  for (size_t i = 0; i < s.size();) {
    Utf8Char u = decode_utf8_at(s, i);
    if (u.length == 0) {
      return i;
    }
    i += u.length;
  }
  return std::nullopt;
}

std::string
replace_invalid_utf8(std::string_view s)
{
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    Utf8Char u = decode_utf8_at(s, i);
    if (u.length == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, u.length));
      i += u.length;
    }
  }
  return out;
}

} // namespace ptool::format
