// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string_view>

#include "core/model.hpp"

namespace ptool::store {

// An attribute map written by hand in ordinary (untagged) YAML, the way `objmod` dumps it
// and upstream's `objmod FILE` reads it (PyYAML safe_load rules): integer keys; a plain
// integer is CK_ULONG, true/false/yes/no/on/off is CK_BBOOL, a string is hex bytes, a list
// of integers is a CK_ULONG array. Anything else (floats, nulls, nested maps, non-hex
// strings) throws Error(k_usage) naming the key, since the library would refuse the row.
AttrMap parse_plain_attrs(std::string_view yaml);

} // namespace ptool::store
