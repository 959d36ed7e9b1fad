// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool dbup: upgrade an old store (schema 1-7) to schema 8, keeping upstream's output.
#include <iostream>

#include "cli/commands.hpp"
#include "store/upgrade.hpp"

namespace ptool::cli {

namespace {

void
run_dbup(const GlobalOptions& g)
{
  store::UpgradeResult r = store::upgrade_store(store::locate(g.path));
  // PyYAML dump of {new, old} plus print()'s blank line, as upstream prints it.
  std::cout << "new: " << r.new_version << "\nold: " << r.old_version << "\n\n";
}

} // namespace

void
add_dbup(CLI::App& app, const GlobalOptions& g)
{
  CLI::App* sub = app.add_subcommand("dbup", "Upgrade the store's schema (a .bak copy is used)");
  sub->footer("Example: tpm2-ptool dbup --path ~/.tpm2_pkcs11");
  sub->callback([&g]() { run_dbup(g); });
}

} // namespace ptool::cli
