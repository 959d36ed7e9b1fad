// SPDX-License-Identifier: BSD-2-Clause
#include "store/object_attrs.hpp"

#include <sqlite3.h>

#include "core/c_handles.hpp"
#include "store/store.hpp"

namespace ptool::store {

std::optional<std::string>
object_attrs_text(const Store& st, int64_t id)
{
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(st.db(), "SELECT attrs FROM tobjects WHERE id=?", -1, &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK) {
    return std::nullopt;
  }
  sqlite3_bind_int64(raw, 1, id);
  if (sqlite3_step(raw) != SQLITE_ROW) {
    return std::nullopt;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
  return std::string(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(raw, 0)));
}

} // namespace ptool::store
