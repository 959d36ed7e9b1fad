// SPDX-License-Identifier: BSD-2-Clause
#include "cli/commands.hpp"

namespace ptool::cli {

void
add_all_commands(CLI::App& app, const GlobalOptions& g)
{
  add_init(app, g);
  add_destroy(app, g);
  add_dbup(app, g);
  add_rmtoken(app, g);
  add_verify(app, g);
  add_addtoken(app, g);
  add_addemptytoken(app, g);
  add_changepin(app, g);
  add_initpin(app, g);
  add_config(app, g);
  add_listprimaries(app, g);
  add_listtokens(app, g);
  add_listobjects(app, g);
  add_import(app, g);
  add_addkey(app, g);
  add_addcert(app, g);
  add_objmod(app, g);
  add_objdel(app, g);
  add_link(app, g);
  add_export(app, g);
  add_rmkey(app, g);
  add_ssh_pubkey(app, g);
  add_ssh_config(app, g);
  add_ssh_keygen(app, g);
  add_doctor(app, g);
  add_attest(app, g);
  add_completion(app, g);
}

} // namespace ptool::cli
