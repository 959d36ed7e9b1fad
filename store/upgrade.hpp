// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <filesystem>

namespace ptool::store {

struct UpgradeResult
{
  int old_version = 0;
  int new_version = 0;
};

// `dbup`: brings the store in `dir` from schema 1..7 to 8 the way upstream does
// (docs/store-format.md §2.5): under <db>.lock, copy the database to <db>.bak with the SQLite
// backup API, run every upgrade step on the copy in one transaction, then atomically rename the
// copy over the database. No <db>.old is ever created (libtpm2_pkcs11 1.9.0 refuses to
// start while one exists). Refuses when <db>.bak already exists. Stores at version 8 or 9
// are left untouched; a missing store is created at version 8. Any failure removes the
// .bak copy and leaves the database exactly as it was.
UpgradeResult upgrade_store(const std::filesystem::path& dir);

} // namespace ptool::store
