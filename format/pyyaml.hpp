// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/secure_bytes.hpp"

// Output in the exact shape of PyYAML's `yaml.safe_dump(x, default_flow_style=False)`, which
// upstream's tpm2_ptool prints and scripts parse or grep (docs/store-format.md §6): block style,
// keys sorted, 2-space indent, sequences in mappings not indented, line width 80, strings quoted
// only where PyYAML's emitter and resolver would. A port of PyYAML 6's Emitter for the
// documents our commands print (block mappings and sequences of scalars, empty `{}`/`[]`),
// checked byte for byte against the real PyYAML by tests/unit/test_format_pyyaml.cpp.
namespace ptool::format {

struct YamlEntry;

struct YamlNode
{
  enum class Kind { k_null, k_bool, k_int, k_str, k_seq, k_map };
  Kind kind = Kind::k_null;
  bool flag = false;
  int64_t num = 0;
  std::string str;     // k_str, unless `secret`
  bool secret = false; // k_str held in `secret_text`: seal auths, keys
  SecureBytes secret_text;
  std::vector<YamlNode> items;    // k_seq
  std::vector<YamlEntry> entries; // k_map, sorted when dumped

  static YamlNode null(); // out of line: YamlEntry is complete only below
  static YamlNode boolean(bool v);
  static YamlNode integer(int64_t v);
  static YamlNode string(std::string v);
  // A string scalar that is a secret: its text never enters a std::string, here or in the
  // emitter (dump it with pyyaml_dump_secret).
  static YamlNode secret_string(SecureBytes v);
  std::string_view text() const { return secret ? secret_text.view() : std::string_view(str); }
  static YamlNode seq(std::vector<YamlNode> v);
  static YamlNode map(std::vector<YamlEntry> v);
};

// One key/value of a mapping. A struct of its own rather than std::pair: pair's constraints
// need YamlNode complete while YamlNode is still being defined (clang 14 rejects that).
struct YamlEntry
{
  YamlNode first;
  YamlNode second;
};

// The text PyYAML writes for `root` (ends with a newline; a plain scalar document ends with
// "...\n" as PyYAML's does). Python's print() adds one more "\n", which callers add where
// upstream does.
std::string pyyaml_dump(const YamlNode& root);
// The same text in wiped memory, for documents with secret_string nodes.
SecureBytes pyyaml_dump_secret(const YamlNode& root);
// Whether `node` or anything under it is a secret_string.
bool has_secret(const YamlNode& node);

// The entries of a k_map in the order pyyaml_dump writes them: Python's sorted() (integers
// by value, strings by code point); keys of mixed kinds stay in insertion order, as PyYAML
// keeps them when sorted() raises TypeError.
std::vector<const YamlEntry*> sorted_entries(const YamlNode& map);

} // namespace ptool::format
