// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool addtoken: a new PKCS#11 token (slot) with SO and user PINs under a primary.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

// The library shows token labels through a 32-byte field; 31 bytes survive.
constexpr size_t k_max_label = 31;

struct AddTokenOptions
{
  int64_t pid = 0;
  std::string label;
  SecretOption sopin{"--sopin", "TPM2_PTOOL_SOPIN", "new SO PIN"};
  SecretOption userpin{"--userpin", "TPM2_PTOOL_USERPIN", "new user PIN"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

void
validate_label(const std::string& label)
{
  if (label.empty()) {
    throw_usage("--label must not be empty");
  }
  require_utf8(label, "--label");
  if (label.size() > k_max_label) {
    throw_usage("token label '" + label + "' is " + std::to_string(label.size())
                  + " bytes; at most 31 fit in a PKCS#11 token label",
                "choose a shorter --label");
  }
}

// pss-sigs-good is a property of the TPM, so a token already under this primary has the
// answer: reuse it and skip the probe's TPM commands (GetCapability, LoadExternal, Sign,
// FlushContext). nullopt when no token of the primary records it. A damaged token row is
// only skipped here: it does not concern the new token.
std::optional<bool>
known_pss_sigs_good(const store::Store& st, int64_t pid)
{
  for (const Token& t : st.tokens_skipping([](const Error&) {})) {
    if (t.pid == pid && t.config.pss_sigs_good) {
      return t.config.pss_sigs_good;
    }
  }
  return std::nullopt;
}

void
run_addtoken(const AddTokenOptions& o, const GlobalOptions& g)
{
  validate_label(o.label);
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  Primary primary = find_primary(st, o.pid);
  if (st.token_by_label(o.label)) {
    throw_usage("a token labeled \"" + o.label + "\" already exists", "choose another --label");
  }
  SecureBytes sopin = read_secret(o.sopin, Prompt::k_new);
  SecureBytes userpin = read_secret(o.userpin, Prompt::k_new);
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  std::optional<bool> known = known_pss_sigs_good(st, primary.id);
  bool pss_good = known ? *known : tpm::pss_sigs_good(ctx.get());
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  SealObject seal = token::create_token_seals(pc, userpin, sopin, true).seal;

  Token token;
  token.pid = primary.id;
  token.label = o.label;
  token.config.token_init = true;
  token.config.pss_sigs_good = pss_good;
  token.config.empty_user_pin = userpin.empty();

  store::Transaction tx(st);
  seal.tokid = st.insert_token(token);
  st.insert_seal_object(seal);
  tx.commit();
}

} // namespace

void
add_addtoken(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<AddTokenOptions>();
  CLI::App* sub = app.add_subcommand("addtoken", "Add a token (PKCS#11 slot) under a primary");
  sub->footer("Example: TPM2_PTOOL_SOPIN=so TPM2_PTOOL_USERPIN=user tpm2-ptool addtoken --pid 1 "
              "--label ssh");
  sub->add_option("--pid", opts->pid, "id of the primary object (from init)")->required();
  // A new label: completion offers none of the existing ones.
  complete_as(
    sub->add_option("--label", opts->label, "token label, unique, at most 31 bytes")->required(),
    ValueKind::k_any);
  add_secret_option(sub, opts->sopin, "security officer PIN of the new token");
  add_secret_option(sub, opts->userpin, "user PIN of the new token (may be empty)");
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->callback([opts, &g]() { run_addtoken(*opts, g); });
}

} // namespace ptool::cli
