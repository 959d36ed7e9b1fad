// SPDX-License-Identifier: BSD-2-Clause
#include "store/inspect.hpp"

#include <sqlite3.h>

namespace ptool::store {

namespace {

int64_t
count(const Store& st, const char* table)
{
  std::string sql = std::string("SELECT count(*) FROM ") + table;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(st.db(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    throw Error(Reason::k_store, "cannot count rows of " + std::string(table) + " in "
                                   + st.path().string() + ": " + sqlite3_errmsg(st.db()));
  }
  SqliteStmt stmt(raw);
  return sqlite3_step(stmt.get()) == SQLITE_ROW ? sqlite3_column_int64(stmt.get(), 0) : 0;
}

} // namespace

RowCounts
count_rows(const Store& st)
{
  return {count(st, "pobjects"), count(st, "tokens"), count(st, "sealobjects"),
          count(st, "tobjects")};
}

StoreFiles
inspect_files(const std::filesystem::path& dir)
{
  namespace fs = std::filesystem;
  StoreFiles f;
  f.dir = dir;
  f.db = dir / k_db_name;
  std::error_code ec;
  auto dst = fs::status(dir, ec);
  f.dir_exists = !ec && fs::is_directory(dst);
  if (f.dir_exists) {
    f.dir_mode = static_cast<unsigned>(dst.permissions()) & 07777;
  }
  auto fst = fs::status(f.db, ec);
  f.db_exists = !ec && fs::is_regular_file(fst);
  if (f.db_exists) {
    f.db_mode = static_cast<unsigned>(fst.permissions()) & 07777;
  }
  for (const char* suffix : {".old", ".bak"}) {
    fs::path p = f.db;
    p += suffix;
    if (fs::exists(p, ec)) {
      f.leftovers.push_back(p);
    }
  }
  return f;
}

} // namespace ptool::store
