// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool dbup: upgrade an old store (schema 1-7) to schema 8, keeping upstream's output.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "store/upgrade.hpp"

namespace ptool::cli {

namespace {

void
run_dbup(const OutputFormat& output, const GlobalOptions& g)
{
  store::UpgradeResult r = store::upgrade_store(store::locate(g.path));
  // PyYAML dump of {new, old} plus print()'s blank line, as upstream prints it.
  print_document(YamlNode::map({{str("new"), YamlNode::integer(r.new_version)},
                                {str("old"), YamlNode::integer(r.old_version)}}),
                 output);
}

} // namespace

void
add_dbup(CLI::App& app, const GlobalOptions& g)
{
  CLI::App* sub = app.add_subcommand("dbup", "Upgrade the store's schema (a .bak copy is used)");
  sub->footer("Example: tpm2-ptool dbup --path ~/.tpm2_pkcs11");
  auto output = std::make_shared<OutputFormat>();
  add_output_option(sub, *output);
  sub->callback([output, &g]() { run_dbup(*output, g); });
}

} // namespace ptool::cli
