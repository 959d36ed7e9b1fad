// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/model.hpp"

// objmod's input and output format (cli/objmod.cpp).
namespace ptool::format {

// An attribute map written by hand in ordinary (untagged) YAML, the way `objmod` dumps it
// and upstream's `objmod FILE` reads it (PyYAML safe_load rules): integer keys; a plain
// integer is CK_ULONG, true/false/yes/no/on/off is CK_BBOOL, a string is hex bytes, a list
// of integers is a CK_ULONG array. Anything else (floats, nulls, nested maps, non-hex
// strings) throws Error(k_usage) naming the key, since the library would refuse the row.
AttrMap parse_plain_attrs(std::string_view yaml);

// The text of every string-valued attribute of a tobjects.attrs column, exactly as the row
// holds it (upstream's objmod prints what PyYAML loads: `06082A8648CE3D030107`, not the
// bytes re-encoded). Best effort: an entry that is not a plain map entry of a string is
// left out, and malformed YAML gives an empty map.
std::map<uint64_t, std::string> attr_string_texts(std::string_view yaml);

} // namespace ptool::format
