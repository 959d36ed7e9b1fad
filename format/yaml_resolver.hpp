// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string_view>

// PyYAML's (YAML 1.1) implicit resolver, the one `yaml.safe_dump` and `yaml.safe_load` use:
// which tag a plain scalar reads back as. Hand-written scanners, one per regex of PyYAML's
// resolver.py, tried in its order behind its first-character table; no std::regex (it
// recurses per character and overflows the stack on long strings). Linear in the length.
namespace ptool::format {

enum class YamlTag { k_str, k_bool, k_float, k_int, k_merge, k_null, k_timestamp, k_value, k_yaml };

// The tag PyYAML's Resolver.resolve gives a plain scalar `s` (UTF-8). Like Python's
// `re.match` with `...$`, a pattern also matches when `s` has one extra trailing "\n".
YamlTag resolve_plain(std::string_view s);

// True when `s` as a whole is PyYAML's int syntax (0b…, 0…, decimal, 0x…, base 60, with
// '_' separators and a sign), without the trailing-newline allowance.
bool is_yaml11_int(std::string_view s);

} // namespace ptool::format
