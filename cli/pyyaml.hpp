// SPDX-License-Identifier: BSD-2-Clause
#pragma once

// The emitter lives in format/ (architecture.md); cli code keeps its short names.
#include "format/pyyaml.hpp"

namespace ptool::cli {
using format::pyyaml_dump;
using format::sorted_entries;
using format::YamlEntry;
using format::YamlNode;
} // namespace ptool::cli
