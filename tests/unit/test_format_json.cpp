// SPDX-License-Identifier: BSD-2-Clause
// format/json: `--output json` compared byte for byte with Python's
// json.dumps(x, indent=2, ensure_ascii=False, sort_keys=True) (/usr/bin/python3, run by the
// test) on generated tricky strings in the document shapes our commands print.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "format/json.hpp"
#include "unit_helpers.hpp"

namespace ptool::format {
namespace {

using test::hex;
using test::unhex;

// Quotes, backslashes, every kind of control json.dumps escapes the way we do, JSON and
// YAML syntax, line and paragraph separators, a BOM, NEL, non-BMP characters.
std::vector<std::string>
corpus()
{
  const std::vector<std::string> fragments = {"\"",
                                              "\\",
                                              "\n",
                                              "\t",
                                              "\r",
                                              std::string(1, '\0'),
                                              "\x01",
                                              "\x1b",
                                              "\x1f",
                                              " ",
                                              "/",
                                              "a",
                                              "0",
                                              "-",
                                              ":",
                                              "{",
                                              "}",
                                              "[",
                                              "]",
                                              ",",
                                              "null",
                                              "true",
                                              "1e5",
                                              "\\u0041",
                                              "\xc3\xa9",
                                              "\xc2\x85",
                                              "\xc2\xa0",
                                              "\xe2\x80\xa8",
                                              "\xe2\x80\xa9",
                                              "\xef\xbb\xbf",
                                              "\xef\xbf\xbd",
                                              "\xf0\x9f\x94\x91",
                                              "\xe4\xb8\xad"};
  std::vector<std::string> out = {""};
  for (const auto& f : fragments) {
    out.push_back(f);
  }
  std::mt19937 rng(13);
  for (int i = 0; i < 600; ++i) {
    std::string s;
    for (size_t n = 2 + rng() % 4; n > 0; --n) {
      s += fragments[rng() % fragments.size()];
    }
    out.push_back(s);
  }
  return out;
}

YamlNode
shape(int which, const std::string& s)
{
  auto str = [](const std::string& v) { return YamlNode::string(v); };
  switch (which) {
  case 0:
    return YamlNode::map({{str("label"), str(s)},
                          {str("id"), YamlNode::integer(7)},
                          {str("ok"), YamlNode::boolean(true)},
                          {str("n"), YamlNode::null()}});
  case 1:
    return YamlNode::seq(
      {str(s), YamlNode::integer(INT64_MIN), YamlNode::seq({}), YamlNode::integer(INT64_MAX)});
  case 2:
    return YamlNode::map(
      {{str(s), YamlNode::map({{str("inner"), YamlNode::seq({str(s), YamlNode::map({})})}})},
       {str("zz"), YamlNode::integer(1)}});
  case 3:
    return YamlNode::map({{YamlNode::integer(256), str(s)},
                          {YamlNode::integer(3), YamlNode::seq({YamlNode::integer(1)})},
                          {YamlNode::integer(0x8f000001), YamlNode::boolean(false)}});
  default:
    return str(s);
  }
}

constexpr const char* k_python = R"PY(
import json, sys
def shape(w, s):
    if w == 0: return {'label': s, 'id': 7, 'ok': True, 'n': None}
    if w == 1: return [s, -2**63, [], 2**63 - 1]
    if w == 2: return {s: {'inner': [s, {}]}, 'zz': 1}
    if w == 3: return {256: s, 3: [1], 0x8f000001: False}
    return s
out = open(sys.argv[2], 'w')
for line in open(sys.argv[1]):
    s = bytes.fromhex(line.strip()).decode('utf-8')
    docs = [json.dumps(shape(w, s), indent=2, ensure_ascii=False, sort_keys=True) + '\n'
            for w in range(5)]
    out.write(' '.join(d.encode('utf-8').hex() for d in docs) + '\n')
)PY";

TEST(FormatJson, ByteIdenticalToPythonJsonDumps)
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
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(out);
  std::string line;
  size_t i = 0, failures = 0;
  while (std::getline(f, line) && failures < 20) {
    ASSERT_LT(i, strings.size());
    const std::string& s = strings[i++];
    std::istringstream fields(line);
    for (int w = 0; w < 5; ++w) {
      std::string expected_hex;
      fields >> expected_hex;
      std::string expected = unhex(expected_hex), ours = json_dump(shape(w, s));
      if (expected != ours) {
        ADD_FAILURE() << "shape " << w << " of hex " << hex(s) << "\njson.dumps:\n"
                      << expected << "\nours:\n"
                      << ours;
        ++failures;
      }
    }
  }
  EXPECT_EQ(i, strings.size());
  EXPECT_EQ(failures, 0u);
}

// Where we differ from json.dumps on purpose (docs/json-output.md): \b, \f and DEL as \u
// escapes, and bytes a Python str could not hold (an old store's label) as U+FFFD.
TEST(FormatJson, EscapesAndIllFormedUtf8)
{
  EXPECT_EQ(json_dump(YamlNode::string("\b\f\x7f")), "\"\\u0008\\u000c\\u007f\"\n");
  EXPECT_EQ(json_dump(YamlNode::string("a\xe2\x82z\xc0\xaf")),
            "\"a\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\"\n");
  EXPECT_EQ(json_dump(YamlNode::map({})), "{}\n");
  EXPECT_EQ(json_dump(YamlNode::seq({})), "[]\n");
}

} // namespace
} // namespace ptool::format
