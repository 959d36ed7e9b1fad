// SPDX-License-Identifier: BSD-2-Clause
// Secret string nodes: the same bytes out as plain string nodes (verify's and export's output
// must not change), held in SecureBytes, and found by has_secret anywhere in a document.
#include <gtest/gtest.h>

#include <string>

#include "core/hex.hpp"
#include "format/pyyaml.hpp"

namespace ptool::format {
namespace {

YamlNode
doc(bool secret, const std::string& value)
{
  YamlNode v = secret ? YamlNode::secret_string(SecureBytes::from(value)) : YamlNode::string(value);
  return YamlNode::map(
    {{YamlNode::string("wrappingkey"), YamlNode::map({{YamlNode::string("hex"), std::move(v)}})},
     {YamlNode::string("objects"),
      YamlNode::seq({YamlNode::map({{YamlNode::string("id"), YamlNode::integer(1)}})})}});
}

TEST(SecretNode, DumpsTheSameBytesAsAPlainString)
{
  // Hex that PyYAML quotes (all digits, or an exponent), plain hex, empty, and a long value.
  const std::string values[] = {"31343664", "1e10", "deadbeef", "", "0x1f", std::string(200, 'a'),
                                "a b: c",   "null"};
  for (const std::string& v : values) {
    SCOPED_TRACE(v);
    YamlNode plain = doc(false, v);
    YamlNode secret = doc(true, v);
    EXPECT_FALSE(has_secret(plain));
    EXPECT_TRUE(has_secret(secret));
    SecureBytes out = pyyaml_dump_secret(secret);
    EXPECT_EQ(std::string(out.view()), pyyaml_dump(plain));
    EXPECT_EQ(pyyaml_dump(secret), pyyaml_dump(plain));
  }
}

TEST(SecretNode, KeepsItsTextInSecureBytes)
{
  YamlNode n = YamlNode::secret_string(SecureBytes::from("s3cret"));
  EXPECT_TRUE(n.str.empty());
  EXPECT_EQ(n.text(), "s3cret");
  EXPECT_EQ(YamlNode::string("x").text(), "x");
}

TEST(SecureHex, MatchesToHex)
{
  const Bytes data{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(to_secure_hex(data).view(), to_hex(data));
  EXPECT_TRUE(to_secure_hex(Bytes{}).empty());
}

} // namespace
} // namespace ptool::format
