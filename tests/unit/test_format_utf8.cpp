// SPDX-License-Identifier: BSD-2-Clause
// format/utf8: the one decoder behind the YAML and JSON emitters and the label checks, on
// the edges of RFC 3629 (the boundaries of each length, overlong forms, surrogates, values
// past U+10FFFF, truncated and stray continuation bytes).
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "format/utf8.hpp"
#include "cli/common.hpp"

namespace ptool::format {
namespace {

struct Case
{
  const char* bytes;
  char32_t code_point; // of the first sequence
  size_t length;       // 0: ill-formed at offset 0
};

TEST(FormatUtf8, BoundariesOfEachLength)
{
  const Case cases[] = {
    {"\x00", 0x0, 1},
    {"\x7f", 0x7f, 1},
    {"\xc2\x80", 0x80, 2},
    {"\xdf\xbf", 0x7ff, 2},
    {"\xe0\xa0\x80", 0x800, 3},
    {"\xed\x9f\xbf", 0xd7ff, 3},
    {"\xee\x80\x80", 0xe000, 3},
    {"\xef\xbf\xbf", 0xffff, 3},
    {"\xf0\x90\x80\x80", 0x10000, 4},
    {"\xf4\x8f\xbf\xbf", 0x10ffff, 4},
  };
  for (const Case& c : cases) {
    // "\x00" is one byte long: std::string(c.bytes) would be empty.
    std::string s = c.length == 1 && c.code_point == 0 ? std::string(1, '\0') : c.bytes;
    Utf8Char u = decode_utf8_at(s, 0);
    EXPECT_EQ(u.length, c.length) << std::hex << static_cast<uint32_t>(c.code_point);
    EXPECT_EQ(u.code_point, c.code_point);
    std::string back;
    append_utf8(back, c.code_point);
    EXPECT_EQ(back, s);
  }
}

TEST(FormatUtf8, IllFormedSequences)
{
  const char* bad[] = {
    "\x80",             // a continuation byte alone
    "\xbf",             //
    "\xc0\x80",         // overlong NUL
    "\xc1\xbf",         // overlong U+007F
    "\xe0\x9f\xbf",     // overlong U+07FF
    "\xf0\x8f\xbf\xbf", // overlong U+FFFF
    "\xed\xa0\x80",     // U+D800, a surrogate
    "\xed\xbf\xbf",     // U+DFFF
    "\xf4\x90\x80\x80", // U+110000
    "\xf5\x80\x80\x80", // lead bytes F5..FF never occur
    "\xff",             //
    "\xc3",             // truncated
    "\xe2\x82",         //
    "\xf0\x9f\x94",     //
    "\xe2\x28\xa1",     // a continuation byte missing in the middle
  };
  for (const char* s : bad) {
    Utf8Char u = decode_utf8_at(s, 0);
    EXPECT_EQ(u.length, 0u) << "byte " << std::hex << (static_cast<unsigned char>(s[0]) + 0);
    EXPECT_EQ(u.code_point, static_cast<unsigned char>(s[0]));
    EXPECT_EQ(first_invalid_utf8(s), 0u);
  }
}

TEST(FormatUtf8, WholeStrings)
{
  EXPECT_EQ(first_invalid_utf8(""), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("caf\xc3\xa9 \xf0\x9f\x94\x91"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ab\xc3\xa9\xed\xa0\x80"), 4u);
  // Each ill-formed byte is one U+FFFD (JSON), or stands for itself (the YAML emitter).
  EXPECT_EQ(replace_invalid_utf8("a\xe2\x82z\xc3\xa9"), "a\xef\xbf\xbd\xef\xbf\xbdz\xc3\xa9");
  EXPECT_EQ(decode_utf8_lossless("a\xe2\x82z\xc3\xa9"),
            (std::u32string{'a', 0xe2, 0x82, 'z', 0xe9}));
}

TEST(FormatUtf8, LabelCheckNamesTheFirstBadByte)
{
  EXPECT_NO_THROW(cli::require_utf8("caf\xc3\xa9", "--label"));
  try {
    cli::require_utf8("ab\xed\xa0\x80", "--label");
    FAIL() << "a surrogate was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::k_usage);
    EXPECT_STREQ(e.what(), "--label is not valid UTF-8 (byte 3)");
  }
}

} // namespace
} // namespace ptool::format
