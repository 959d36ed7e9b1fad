// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>
#include <string_view>

#include "core/model.hpp"

// The YAML columns of the store, in the tagged dialect upstream's C parser requires
// (docs/store-format.md §2.2): scalars tagged !!int / !!bool / !!str, lists !!seq of !!int.
namespace ptool::store {

// tobjects.attrs
std::string emit_attrs(const AttrMap& attrs);
// Throws std::runtime_error describing the problem; callers add the row id.
AttrMap parse_attrs(std::string_view yaml);
// The same through yaml-cpp only, never the fast scanner (the differential fuzz target
// checks that both agree). Does not convert a hex CKA_ALLOWED_MECHANISMS back to a list.
AttrMap parse_attrs_yaml(std::string_view yaml);

// tokens.config
std::string emit_token_config(const TokenConfig& config);
TokenConfig parse_token_config(std::string_view yaml);

// pobjects.config (+ the objauth column, which is plain text and handled by the caller)
std::string emit_primary_config(const Primary& primary);
void parse_primary_config(std::string_view yaml, Primary& primary);

} // namespace ptool::store
