// SPDX-License-Identifier: BSD-2-Clause
// The fast tobjects.attrs scanner must give exactly what the full YAML parser gives for the
// layouts it accepts, and refuse (so the full parser decides) everything else.
#include <gtest/gtest.h>

#include "core/keys/pkcs11_ids.hpp"
#include "store/attr_scan.hpp"
#include "store/attr_yaml.hpp"
#include "unit_helpers.hpp"

namespace ptool {
namespace {

using store::scan_attrs;
using V = AttrValue;

std::string
sample_attrs(int id)
{
  std::string out =
    test::upstream_sample_output("SELECT attrs FROM tobjects WHERE id = " + std::to_string(id));
  return out.substr(out.find("---"));
}

// A YAML comment after "---": valid YAML the scanner refuses, so parse_attrs() takes the
// full yaml-cpp path on otherwise identical text.
std::string
full_parser_only(const std::string& yaml)
{
  return "--- # via yaml-cpp" + yaml.substr(3);
}

TEST(AttrScan, UpstreamRowsScanLikeTheFullParser)
{
  for (int id : {1, 2, 4}) {
    std::string yaml = sample_attrs(id);
    ASSERT_FALSE(scan_attrs(full_parser_only(yaml))) << id;
    std::optional<AttrMap> fast = scan_attrs(yaml);
    ASSERT_TRUE(fast) << id;
    EXPECT_EQ(*fast, store::parse_attrs(full_parser_only(yaml))) << id;
    EXPECT_GT(fast->size(), 20u) << id;
  }
}

TEST(AttrScan, OurEmitterOutputScansBack)
{
  AttrMap a = {
    {0, V::integer(0)},
    {1, V::boolean(true)},
    {2, V::boolean(false)},
    {3, V::data(to_bytes("label"))},
    {0x11, V::data({})},
    {0x121, V::integer(UINT64_MAX)},
    {ck::k_wrap_template, V::list({})},
    {ck::k_allowed_mechanisms, V::list({0x1041, 0, 0x2107})},
  };
  std::string yaml = store::emit_attrs(a);
  std::optional<AttrMap> fast = scan_attrs(yaml);
  ASSERT_TRUE(fast) << yaml;
  EXPECT_EQ(*fast, a);
  EXPECT_EQ(store::parse_attrs(full_parser_only(yaml)), a);
}

TEST(AttrScan, FlowMapOnOneLine)
{
  auto a = scan_attrs("--- !!map { ? !!int \"1\" : !!bool \"true\", ? !!int \"2\" : !!seq [] }\n");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at(1), V::boolean(true));
  EXPECT_EQ(a->at(2), V::list({}));
}

TEST(AttrScan, RefusesWhatItDoesNotFullyUnderstand)
{
  for (const char* yaml : {
         "--- !!map { ? !!int \"3\" : !!str \"6\\x62\" }\n",      // escape
         "--- !!map { ? !!int \"3\" : !!float \"1.0\" }\n",       // other tag
         "--- !!map { ? !!int \"010\" : !!int \"3\" }\n",         // octal for strtoul
         "--- !!map { ? !!int \"0x10\" : !!int \"3\" }\n",        // hex base
         "--- !!map { ? !!int \"1\" : !!bool \"True\" }\n",       // not exactly true/false
         "--- !!map { ? !!int \"1\" : !!int \"3\" }\nextra\n",    // trailing text
         "--- !!map { ? !!int \"1\" : !!int \"3\"\n",             // unclosed
         "--- !!map {\t? !!int \"1\" : !!int \"3\" }\n",          // tab
         "--- !!map { ? !!int \"1\" : !!str \"zz\" }\n",          // not hex
         "--- !!map\n !!int \"1\": !!int \"3\"\n",                // indented block key
         "--- !!map\n!!int \"1\": !!int \"3\" # c\n",             // comment
         "!!int \"0\": !!int \"3\"\n",                            // no document marker
         "--- !!map { ? !!int \"1\" : !!seq [ !!str \"a\" ] }\n", // list of non-int
       }) {
    EXPECT_FALSE(scan_attrs(yaml)) << yaml;
  }
}

// The module's index: where scan_attr_spans finds a value decodes to what scan_attrs reads,
// whether the value is held in the span (booleans, 32-bit integers) or read from the text,
// with `only` sorted or not, a key missing or repeated.
TEST(AttrScan, SpansDecodeLikeTheScan)
{
  AttrMap a = {
    {0, V::integer(3)},
    {1, V::boolean(true)},
    {2, V::boolean(false)},
    {3, V::data(to_bytes("label"))},
    {0x11, V::data({})},
    {0x100, V::integer(UINT32_MAX)},
    {0x121, V::integer(uint64_t{UINT32_MAX} + 1)},
    {ck::k_allowed_mechanisms, V::list({0x1041, 0, 0x2107})},
  };
  std::string block = store::emit_attrs(a);
  std::string flow = "--- !!map { ? !!int \"3\" : !!str \"00\", ? !!int \"0\" : !!int \"3\",\n"
                     "  ? !!int \"3\" : !!str \"6C6162656C\" }\n";
  for (const std::string& yaml : {block, flow}) {
    std::optional<AttrMap> full = scan_attrs(yaml);
    ASSERT_TRUE(full) << yaml;
    for (std::vector<uint64_t> only :
         {std::vector<uint64_t>{0, 1, 2, 3, 0x11, 0x100, 0x121, 0x7, ck::k_allowed_mechanisms},
          std::vector<uint64_t>{ck::k_allowed_mechanisms, 0x121, 3, 0x7, 0x100, 2, 0x11, 1, 0}}) {
      std::vector<store::ValueSpan> spans(only.size());
      ASSERT_TRUE(store::scan_attr_spans(yaml, only, spans)) << yaml;
      for (size_t i = 0; i < only.size(); ++i) {
        auto it = full->find(only[i]);
        ASSERT_EQ(spans[i].found != 0, it != full->end()) << only[i];
        if (it != full->end()) {
          EXPECT_EQ(store::decode_span(yaml, spans[i]), it->second) << only[i];
        }
      }
    }
  }
  std::vector<store::ValueSpan> spans(1);
  const uint64_t label[] = {3};
  EXPECT_FALSE(store::scan_attr_spans(full_parser_only(block), label, spans));
}

} // namespace
} // namespace ptool
