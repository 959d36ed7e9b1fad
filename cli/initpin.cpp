// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool initpin: the SO (re)sets the user PIN: the wrapping key, unsealed with the SO
// PIN, is sealed again in a brand-new user seal object.
#include <memory>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct InitPinOptions
{
  std::string label;
  SecretOption sopin{"--sopin", "TPM2_PTOOL_SOPIN", "SO PIN"};
  SecretOption userpin{"--userpin", "TPM2_PTOOL_USERPIN", "new user PIN"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

void
run_initpin(const InitPinOptions& o, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  auto [token, primary, seal] = store::load_token(st, o.label);
  SecureBytes sopin = read_secret(o.sopin, Prompt::k_existing);
  SecureBytes userpin = read_secret(o.userpin, Prompt::k_new);
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  SealBlobs blobs = token::reseal_user(pc, seal.so, sopin, userpin);

  store::Transaction tx(st);
  recheck_seal(st, token, seal, true);
  store_user_seal(st, token, blobs, userpin.empty());
  tx.commit();
}

} // namespace

void
add_initpin(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<InitPinOptions>();
  CLI::App* sub = app.add_subcommand("initpin", "Set a token's user PIN with the SO PIN");
  sub->footer("Example: TPM2_PTOOL_SOPIN=so TPM2_PTOOL_USERPIN=newpin tpm2-ptool initpin "
              "--label ssh");
  sub->add_option("--label", opts->label, "label of the token")->required();
  add_secret_option(sub, opts->sopin, "the token's SO PIN");
  add_secret_option(sub, opts->userpin, "the new user PIN (may be empty)");
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->callback([opts, &g]() { run_initpin(*opts, g); });
}

} // namespace ptool::cli
