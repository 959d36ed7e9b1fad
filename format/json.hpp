// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>

#include "format/pyyaml.hpp"

// `--output json` (docs/json-output.md): the same YamlNode tree a command prints as YAML.
namespace ptool::format {

// `root` as JSON, the bytes of Python's `json.dumps(x, indent=2, ensure_ascii=False,
// sort_keys=True)` plus a newline: 2-space indent, object keys in the order the YAML dump
// sorts them, integer map keys written as decimal strings. Strings stay UTF-8 with '"',
// '\\' and controls escaped; unlike json.dumps, \b and \f are written \u0008 and \u000c and
// DEL as \u007f. Ill-formed UTF-8 bytes become U+FFFD so the output is always valid JSON.
std::string json_dump(const YamlNode& root);

// The same text in memory that is wiped when freed, for documents with secret_string nodes.
using JsonText = std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;
JsonText json_text(const YamlNode& root);

} // namespace ptool::format
