// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
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

} // namespace ptool::store
