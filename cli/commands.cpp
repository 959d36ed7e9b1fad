// SPDX-License-Identifier: BSD-2-Clause
#include "cli/commands.hpp"

namespace ptool::cli {

void
add_all_commands(CLI::App& app, const GlobalOptions& g)
{
  add_init(app, g);
  add_verify(app, g);
  add_addtoken(app, g);
  add_changepin(app, g);
  add_initpin(app, g);
  add_addkey(app, g);
  add_ssh_pubkey(app, g);
}

} // namespace ptool::cli
