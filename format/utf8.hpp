// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

// The one UTF-8 decoder of the project (RFC 3629: no overlong forms, no UTF-16 surrogates,
// nothing above U+10FFFF). Callers decide what an ill-formed byte becomes: the YAML emitter
// keeps it as a character of its own, JSON writes U+FFFD, label checks refuse it.
namespace ptool::format {

struct Utf8Char
{
  char32_t code_point = 0;
  size_t length = 0; // bytes of the sequence at the position; 0: ill-formed there
};

// The well-formed sequence starting at s[i] (i < s.size()), or {s[i] as a byte value, 0}.
Utf8Char decode_utf8_at(std::string_view s, size_t i);

// The offset of the first byte that does not start a well-formed sequence, or nullopt.
std::optional<size_t> first_invalid_utf8(std::string_view s);

// Code points of `s`; an ill-formed byte stands for itself (as U+0080..U+00FF). `Text` is a
// u32string type (the YAML emitter's own wipes its memory).
template<class Text = std::u32string>
Text
decode_utf8_lossless(std::string_view s)
{
  Text out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    Utf8Char u = decode_utf8_at(s, i);
    out.push_back(u.code_point);
    i += u.length ? u.length : 1;
  }
  return out;
}

// `s` with every ill-formed byte replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view s);

// Appends the UTF-8 encoding of `c` (c <= U+10FFFF) to a char string of any allocator.
template<class Out>
void
append_utf8(Out& out, char32_t c)
{
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

} // namespace ptool::format
