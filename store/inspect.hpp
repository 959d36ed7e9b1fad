// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace ptool::store {

// Rows per table, counted with SQL so that rows the model cannot parse are counted too.
struct RowCounts
{
  int64_t primaries = 0;
  int64_t tokens = 0;
  int64_t sealobjects = 0;
  int64_t objects = 0;
};
RowCounts count_rows(const Store& st);

// Things about the files of a store directory that stop the upstream tools or leak secrets.
struct StoreFiles
{
  std::filesystem::path dir;
  std::filesystem::path db;
  bool dir_exists = false;
  bool db_exists = false;
  unsigned dir_mode = 0; // permission bits
  unsigned db_mode = 0;
  // Leftovers next to the database: `<db>.old` stops libtpm2_pkcs11 1.9.0 from opening any
  // store; `<db>.bak` stops upstream's tool from upgrading.
  std::vector<std::filesystem::path> leftovers;
};
StoreFiles inspect_files(const std::filesystem::path& dir);

} // namespace ptool::store
