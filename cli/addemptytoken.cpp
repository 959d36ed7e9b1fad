// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool addemptytoken: an uninitialized token (no label, no PINs) that PKCS#11
// applications can set up later with C_InitToken.
#include <memory>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::cli {

namespace {

struct AddEmptyTokenOptions
{
  int64_t pid = 0;
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

void
run_addemptytoken(const AddEmptyTokenOptions& o, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  Primary primary = find_primary(st, o.pid);
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  bool pss_good = tpm::pss_sigs_good(ctx.get());
  // Makes the primary usable once (re-creating a transient one checks the hierarchy auth),
  // so a token the library could never open is not added.
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);

  Token token;
  token.pid = primary.id;
  token.config.token_init = false;
  token.config.pss_sigs_good = pss_good;
  store::Transaction tx(st);
  st.insert_token(token);
  tx.commit();
}

} // namespace

void
add_addemptytoken(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<AddEmptyTokenOptions>();
  CLI::App* sub = app.add_subcommand(
    "addemptytoken", "Add an uninitialized token (for C_InitToken) under a primary");
  sub->footer("Example: tpm2-ptool addemptytoken --pid 1");
  sub->add_option("--pid", opts->pid, "id of the primary object (from init)")->required();
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->callback([opts, &g]() { run_addemptytoken(*opts, g); });
}

} // namespace ptool::cli
