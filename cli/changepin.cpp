// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool changepin: give a token's SO or user seal object a new PIN with
// TPM2_ObjectChangeAuth (the TPM checks the old PIN; the wrapping key is untouched).
#include <memory>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct ChangePinOptions
{
  std::string user = "user";
  std::string label;
  SecretOption old_pin{"--old", "TPM2_PTOOL_OLD_PIN", "old PIN"};
  SecretOption new_pin{"--new", "TPM2_PTOOL_NEW_PIN", "new PIN"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

void
run_changepin(const ChangePinOptions& o, const GlobalOptions& g)
{
  const bool so = o.user == "so";
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  auto [token, primary, seal] = store::load_token(st, o.label);
  if (!so && !seal.user) {
    throw Error(ExitCode::k_auth, "token \"" + o.label + "\" has no user PIN yet",
                "set one with 'tpm2-ptool initpin'");
  }
  const SealBlobs& blobs = so ? seal.so : *seal.user;
  // As upstream: a token with an empty user PIN needs no --old for the user PIN.
  SecureBytes old_pin = (!so && !o.old_pin.given() && token.config.empty_user_pin)
                          ? SecureBytes{}
                          : read_secret(o.old_pin, Prompt::k_existing);
  SecureBytes new_pin = read_secret(o.new_pin, Prompt::k_new);
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  SealBlobs updated = token::change_pin(pc, blobs, old_pin, new_pin);

  store::Transaction tx(st);
  recheck_seal(st, token, seal, true);
  if (so) {
    st.update_seal_so(token.id, updated);
  } else {
    store_user_seal(st, token, updated, new_pin.empty());
  }
  tx.commit();
}

} // namespace

void
add_changepin(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<ChangePinOptions>();
  CLI::App* sub = app.add_subcommand("changepin", "Change a token's user or SO PIN");
  sub->footer("Example: tpm2-ptool changepin --label ssh --user user --old-file old.txt "
              "--new-file new.txt\nEnvironment: TPM2_PTOOL_OLD_PIN, TPM2_PTOOL_NEW_PIN.");
  sub->add_option("--user", opts->user, "which PIN to change: so or user (default user)")
    ->check(CLI::IsMember({"so", "user"}));
  sub->add_option("--label", opts->label, "label of the token")->required();
  add_secret_option(sub, opts->old_pin, "the current PIN (may be omitted for an empty user PIN)");
  add_secret_option(sub, opts->new_pin, "the new PIN");
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->callback([opts, &g]() { run_changepin(*opts, g); });
}

} // namespace ptool::cli
