// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model.hpp"

namespace ptool::store {

// Fast path for tobjects.attrs in the two layouts that are actually written: PyYAML's
// canonical flow map (upstream: `!!map {` / `? !!int "K"` / `: !!T "V",`) and our emitter's
// block map (`!!int "K": !!T "V"`), values !!int/!!bool/!!str or a flow !!seq of !!int.
// Returns nullopt for anything else (escapes, other tags, comments, odd layout), and the
// caller falls back to the full YAML parser, which also produces the error messages.
// Exists because yaml-cpp costs ~0.2 ms per object, which dominated stores with many keys.
std::optional<AttrMap> scan_attrs(std::string_view yaml);
// Where the value of one attribute lies in a row's text: between the quotes of `!!str "HEX"`
// or `!!int "N"`, or from after `!!seq` to its closing `]`. A boolean, or an integer that
// fits in 32 bits, is held in `offset` instead (`inline_value`), so that reading it does not
// touch the text. Eight bytes: the module keeps one per indexed attribute and row.
struct ValueSpan
{
  static constexpr size_t k_max_length = (size_t{1} << 28) - 1;

  uint32_t offset = 0;
  uint32_t length : 28 = 0;
  uint32_t kind_bits : 2 = 0;
  uint32_t inline_value : 1 = 0;
  uint32_t found : 1 = 0; // the row holds the attribute

  AttrValue::Kind kind() const { return static_cast<AttrValue::Kind>(kind_bits); }
};
// The same check of the whole row as scan_attrs (it accepts exactly the rows scan_attrs
// accepts), decoding nothing: spans[i] says where the value of key only[i] lies (`found`
// false when the row lacks it; the last one when a key repeats). `only` holds distinct keys
// (fastest sorted) and `spans` at least as many entries; a row longer than
// ValueSpan::k_max_length is refused. The module's index of a row at load: no allocation.
bool scan_attr_spans(std::string_view yaml, std::span<const uint64_t> only,
                     std::span<ValueSpan> spans);
// The value at `span` of a row that scan_attr_spans accepted, as scan_attrs decodes it.
AttrValue decode_span(std::string_view yaml, const ValueSpan& span);

// Some attributes of a row, each key once, in the order of `only`.
using AttrList = std::vector<std::pair<uint64_t, AttrValue>>;
// scan_attr_spans with the values found decoded.
std::optional<AttrList> scan_attrs_only(std::string_view yaml, std::span<const uint64_t> only);

} // namespace ptool::store
