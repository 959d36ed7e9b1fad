// SPDX-License-Identifier: BSD-2-Clause
// format/: the PyYAML emitter and resolver, compared byte for byte with the real PyYAML
// (/usr/bin/python3's yaml.safe_dump, the one upstream's tpm2_ptool prints through) on
// about 2000 generated tricky strings, in every document shape our commands print.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "format/pyyaml.hpp"
#include "format/yaml_resolver.hpp"
#include "unit_helpers.hpp"

namespace ptool::format {
namespace {

using test::hex;
using test::unhex;

// Fragments that meet PyYAML's rules: resolver syntax (numbers, bases, base 60, floats,
// timestamps, bools, nulls), indicators, quotes, whitespace, breaks, controls, non-ASCII.
const std::vector<std::string> k_fragments = {
  "0",
  "1",
  "7",
  "8",
  "9",
  "5",
  "_",
  ":",
  ".",
  "-",
  "+",
  "e",
  "E",
  "x",
  "b",
  "o",
  "a",
  "F",
  "06082A8648CE3D030107",
  "7eb4",
  "3132",
  "0x",
  "0b",
  "1e5",
  "1_000",
  "12:30",
  ".inf",
  ".NaN",
  "yes",
  "No",
  "ON",
  "off",
  "true",
  "False",
  "null",
  "~",
  "Null",
  "<<",
  "=",
  "!",
  "&",
  "*",
  "2001-12-14",
  "2001-1-2",
  "T",
  "t",
  "21:59:43",
  ".10",
  "Z",
  " -5",
  "+05:00",
  " ",
  "  ",
  "\t",
  "\n",
  "\n\n",
  " \n",
  "\n ",
  "\r",
  "#",
  " #",
  ": ",
  ":",
  "'",
  "\"",
  "\\",
  "---",
  "...",
  "?",
  "? ",
  "- ",
  "[",
  "]",
  "{",
  "}",
  ",",
  "%",
  "@",
  "`",
  "|",
  ">",
  "\x01",
  "\x1b",
  "\x7f",
  std::string(1, '\0'),
  "\xc3\xa9",
  "\xc2\x85",
  "\xc2\xa0",
  "\xe2\x80\xa8",
  "\xef\xbb\xbf",
  "\xf0\x9f\x94\x91",
  "word",
  "mypobjpin",
  "ssh key",
};

std::vector<std::string>
corpus()
{
  std::vector<std::string> out(k_fragments.begin(), k_fragments.end());
  out.emplace_back();
  std::mt19937 rng(20261201);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 1500; ++i) {
    std::string s;
    size_t n = 1 + pick(5);
    for (size_t k = 0; k < n; ++k) {
      s += k_fragments[pick(k_fragments.size())];
    }
    out.push_back(s);
  }
  // Long text around the 80-column limit: words, runs of spaces, quotes, specials.
  const std::vector<std::string> words = {
    "a", "bb", "word", "longerword", "x'y", "  ", "z\"", "\xc3\xa9", "#", "q:", "\t", "\n", "12"};
  for (int i = 0; i < 400; ++i) {
    std::string s;
    size_t target = 60 + pick(140);
    while (s.size() < target) {
      s += words[pick(words.size())];
      s += pick(4) ? " " : "";
    }
    out.push_back(s);
  }
  // Sizes that used to overflow std::regex's recursion, and long keys (simple-key limit).
  out.push_back(std::string(30000, '1'));
  out.push_back("0x" + std::string(30000, 'f'));
  out.push_back(std::string(30000, '1') + ".5");
  for (size_t n : {120, 121, 122, 123, 124, 127, 128}) {
    out.push_back(std::string(n, 'k'));
  }
  return out;
}

// The shapes our commands print: a top-level map value, a nested map value (export's
// primary-object.auth), listobjects' list of maps with a one-element list, a map key,
// a root scalar.
YamlNode
shape(int which, const std::string& s)
{
  auto str = [](const std::string& v) { return YamlNode::string(v); };
  switch (which) {
  case 0:
    return YamlNode::map({{str("object-auth"), str(s)}, {str("a"), YamlNode::integer(-3)}});
  case 1:
    return YamlNode::map(
      {{str("primary-object"),
        YamlNode::map({{str("auth"), str(s)}, {str("is_transient"), YamlNode::boolean(true)}})}});
  case 2:
    return YamlNode::seq({YamlNode::map({{str("CKA_ID"), YamlNode::seq({str(s)})},
                                         {str("CKA_LABEL"), str(s)},
                                         {str("id"), YamlNode::integer(1)},
                                         {str("e"), YamlNode::map({})},
                                         {str("n"), YamlNode::null()}})});
  case 3:
    return YamlNode::map({{str(s), YamlNode::integer(1)}, {str("m"), YamlNode::seq({})}});
  default:
    return str(s);
  }
}

constexpr const char* k_python = R"PY(
import sys, yaml
from yaml.resolver import Resolver
from yaml.nodes import ScalarNode
def shape(w, s):
    if w == 0: return {'object-auth': s, 'a': -3}
    if w == 1: return {'primary-object': {'auth': s, 'is_transient': True}}
    if w == 2: return [{'CKA_ID': (s,), 'CKA_LABEL': s, 'id': 1, 'e': {}, 'n': None}]
    if w == 3: return {s: 1, 'm': []}
    return s
r = Resolver()
out = open(sys.argv[2], 'w')
for line in open(sys.argv[1]):
    s = bytes.fromhex(line.strip()).decode('utf-8')
    tag = r.resolve(ScalarNode, s, (True, False)).rsplit(':', 1)[1]
    docs = [yaml.safe_dump(shape(w, s), default_flow_style=False) for w in range(5)]
    out.write(' '.join([tag] + [d.encode('utf-8').hex() for d in docs]) + '\n')
)PY";

const char*
tag_name(YamlTag t)
{
  switch (t) {
  case YamlTag::k_str:
    return "str";
  case YamlTag::k_bool:
    return "bool";
  case YamlTag::k_float:
    return "float";
  case YamlTag::k_int:
    return "int";
  case YamlTag::k_merge:
    return "merge";
  case YamlTag::k_null:
    return "null";
  case YamlTag::k_timestamp:
    return "timestamp";
  case YamlTag::k_value:
    return "value";
  case YamlTag::k_yaml:
    return "yaml";
  }
  return "?";
}

TEST(FormatPyyaml, ByteIdenticalToPyYAMLSafeDump)
{
  test::TempDir dir;
  auto in = dir.path() / "in.txt", out = dir.path() / "out.txt", py = dir.path() / "dump.py";
  std::vector<std::string> strings = corpus();
  {
    std::ofstream f(in);
    for (const auto& s : strings) {
      f << hex(s) << "\n";
    }
    std::ofstream(py) << k_python;
  }
  std::string cmd = "/usr/bin/python3 " + py.string() + " " + in.string() + " " + out.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "python3 with PyYAML is a test dependency";
  std::ifstream f(out);
  std::string line;
  size_t i = 0, failures = 0;
  while (std::getline(f, line) && failures < 20) {
    ASSERT_LT(i, strings.size());
    const std::string& s = strings[i++];
    std::istringstream fields(line);
    std::string tag;
    fields >> tag;
    if (tag != tag_name(resolve_plain(s))) {
      ADD_FAILURE() << "resolver differs for \"" << hex(s) << "\": PyYAML " << tag << ", ours "
                    << tag_name(resolve_plain(s));
      ++failures;
    }
    for (int w = 0; w < 5; ++w) {
      std::string expected_hex;
      fields >> expected_hex;
      std::string expected = unhex(expected_hex), ours = pyyaml_dump(shape(w, s));
      if (expected != ours) {
        ADD_FAILURE() << "shape " << w << " of hex " << hex(s).substr(0, 200) << "\nPyYAML:\n"
                      << expected << "\nours:\n"
                      << ours;
        ++failures;
      }
    }
  }
  EXPECT_EQ(i, strings.size());
  EXPECT_EQ(failures, 0u);
}

TEST(FormatPyyaml, IntScannerMatchesPyYAMLWithoutTrailingNewline)
{
  EXPECT_TRUE(is_yaml11_int("0x1F"));
  EXPECT_TRUE(is_yaml11_int("+1_0:59:00"));
  EXPECT_TRUE(is_yaml11_int("0b_"));
  EXPECT_FALSE(is_yaml11_int("123\n")); // resolve_plain takes it (Python's `$`), the store not
  EXPECT_EQ(resolve_plain("123\n"), YamlTag::k_int);
  EXPECT_FALSE(is_yaml11_int("1:60"));
  EXPECT_FALSE(is_yaml11_int("08"));
  EXPECT_TRUE(is_yaml11_int(std::string(30000, '7')));
}

TEST(FormatPyyaml, SortsKeysAsPythonSorted)
{
  auto m = YamlNode::map(
    {{YamlNode::integer(384), YamlNode::integer(1)}, {YamlNode::integer(3), YamlNode::integer(2)}});
  EXPECT_EQ(pyyaml_dump(m), "3: 2\n384: 1\n");
  auto mixed = YamlNode::map(
    {{YamlNode::string("b"), YamlNode::integer(1)}, {YamlNode::integer(3), YamlNode::integer(2)}});
  EXPECT_EQ(pyyaml_dump(mixed), "b: 1\n3: 2\n"); // sorted() raises: dict order
}

} // namespace
} // namespace ptool::format
