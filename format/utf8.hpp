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

// Code points of `s`; an ill-formed byte stands for itself (as U+0080..U+00FF).
std::u32string decode_utf8_lossless(std::string_view s);

// `s` with every ill-formed byte replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view s);

// Appends the UTF-8 encoding of `c` (c <= U+10FFFF).
void append_utf8(std::string& out, char32_t c);

} // namespace ptool::format
