// SPDX-License-Identifier: BSD-2-Clause
// format/attr_file: the plain YAML `objmod FILE` reads (PyYAML safe_load rules) and the
// string texts objmod prints from a tobjects.attrs row.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "format/attr_file.hpp"

namespace ptool::format {
namespace {

TEST(FormatAttrFile, PlainYamlValues)
{
  AttrMap a = parse_plain_attrs("0: 3\n0x3: 6b31\n1: yes\n2: Off\n0b111: 0b101\n"
                                "0x40000600: [0x1041, 4_164]\n010: 1:00\n");
  EXPECT_EQ(a.at(0), AttrValue::integer(3));
  EXPECT_EQ(a.at(3), AttrValue::data({0x6b, 0x31}));
  EXPECT_EQ(a.at(1), AttrValue::boolean(true));
  EXPECT_EQ(a.at(2), AttrValue::boolean(false));
  EXPECT_EQ(a.at(7), AttrValue::integer(5));
  EXPECT_EQ(a.at(0x40000600), AttrValue::list({0x1041, 4164}));
  EXPECT_EQ(a.at(8), AttrValue::integer(60)); // a leading 0 is octal, 1:00 is base 60
}

TEST(FormatAttrFile, RefusedValuesNameTheKey)
{
  auto message = [](const char* yaml) {
    try {
      parse_plain_attrs(yaml);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::k_usage);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("3: 1.5\n"), "attribute 3: '1.5' is not an even-length hex string");
  EXPECT_EQ(message("3: ~\n"), "attribute 3: nested maps and nulls are not attribute values");
  EXPECT_EQ(message("3: {4: 1}\n"), "attribute 3: nested maps and nulls are not attribute values");
  EXPECT_EQ(message("3: -1\n"), "negative value '-1' cannot be a CK_ULONG");
  EXPECT_EQ(message("3: 18446744073709551616\n"),
            "value '18446744073709551616' does not fit a CK_ULONG");
  EXPECT_EQ(message("label: 1\n"), "attribute label: keys must be attribute numbers (integers)");
  EXPECT_EQ(message("0o7: 1\n"), // not an int for PyYAML's YAML 1.1
            "attribute 0o7: keys must be attribute numbers (integers)");
  EXPECT_EQ(message("- 1\n"), "the attribute file is not a YAML map");
}

TEST(FormatAttrFile, StringTextsOfAStoredRow)
{
  auto texts = attr_string_texts("---\n!!map {\n  ? !!int \"3\"\n  : !!str \"6b31\",\n"
                                 "  ? !!int \"0\"\n  : !!int \"3\",\n}\n");
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts.at(3), "6b31");
  EXPECT_TRUE(attr_string_texts("{{{").empty());
}

} // namespace
} // namespace ptool::format
