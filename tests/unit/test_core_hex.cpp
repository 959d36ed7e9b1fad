// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "core/hex.hpp"

namespace ptool {
namespace {

TEST(Hex, EncodesLowercase)
{
  EXPECT_EQ(to_hex(Bytes{}), "");
  EXPECT_EQ(to_hex(Bytes{0x00, 0x0f, 0xa0, 0xff}), "000fa0ff");
  EXPECT_EQ(to_hex(std::string_view("k1")), "6b31");
  EXPECT_EQ(to_hex(std::string_view("a\0b", 3)), "610062");
}

TEST(Hex, DecodesEitherCase)
{
  EXPECT_EQ(from_hex(""), Bytes{});
  EXPECT_EQ(from_hex("000fA0Ff"), (Bytes{0x00, 0x0f, 0xa0, 0xff}));
  EXPECT_EQ(from_hex("06082A8648CE3D030107"),
            (Bytes{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}));
  Bytes all(256);
  for (size_t i = 0; i < all.size(); ++i) {
    all[i] = static_cast<uint8_t>(i);
  }
  EXPECT_EQ(from_hex(to_hex(all)), all);
}

TEST(Hex, RejectsNonHex)
{
  for (std::string_view bad : {"0", "abc", "0g", "g0", " 00", "00 ", "0x00", "-1", "zz", "6b3"}) {
    EXPECT_FALSE(from_hex(bad).has_value()) << bad;
  }
  EXPECT_FALSE(from_hex(std::string_view("0\0", 2)).has_value());
}

TEST(Hex, TextBytes)
{
  EXPECT_EQ(to_bytes("ab"), (Bytes{'a', 'b'}));
  EXPECT_EQ(to_string(Bytes{'a', 'b'}), "ab");
}

} // namespace
} // namespace ptool
