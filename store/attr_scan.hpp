// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/model.hpp"

namespace ptool::store {

// Fast path for tobjects.attrs in the two layouts that are actually written: PyYAML's
// canonical flow map (upstream: `!!map {` / `? !!int "K"` / `: !!T "V",`) and our emitter's
// block map (`!!int "K": !!T "V"`), values !!int/!!bool/!!str or a flow !!seq of !!int.
// Returns nullopt for anything else (escapes, other tags, comments, odd layout), and the
// caller falls back to the full YAML parser, which also produces the error messages.
// Exists because yaml-cpp costs ~0.2 ms per object, which dominated stores with many keys.
std::optional<AttrMap> scan_attrs(std::string_view yaml);
// The same check of the whole row, but only the attributes in `only` are decoded and
// returned (the others are validated as scan_attrs would decode them, not stored): it
// accepts exactly the rows scan_attrs accepts. The module's index of a row at load.
std::optional<AttrMap> scan_attrs_only(std::string_view yaml, std::span<const uint64_t> only);

} // namespace ptool::store
