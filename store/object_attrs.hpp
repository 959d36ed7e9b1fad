// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ptool::store {

class Store;
// The attrs column of tobjects row `id` as stored, or nullopt when there is no such row.
std::optional<std::string> object_attrs_text(const Store& st, int64_t id);

} // namespace ptool::store
