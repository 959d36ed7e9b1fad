// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool verify: check a token's PINs against the TPM and print its secrets, exactly as
// upstream's verify does (provisioning scripts parse this output).
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::cli {

namespace {

struct VerifyOptions
{
  std::string label;
  TokenAuthOptions auth;
};

// PyYAML writes hex strings plain unless they would read back as a number.
std::string
scalar(std::string_view s)
{
  bool has_letter = false;
  for (char c : s) {
    bool digit = c >= '0' && c <= '9';
    bool hex_letter = c >= 'a' && c <= 'f';
    if (!digit && !hex_letter) {
      return yaml_quote(std::string(s));
    }
    has_letter = has_letter || hex_letter;
  }
  return has_letter ? std::string(s) : yaml_quote(std::string(s));
}

std::string
config_yaml(const TokenConfig& c)
{
  std::ostringstream out;
  out << "config:\n";
  if (c.empty_user_pin) {
    out << "  empty-user-pin: true\n";
  }
  if (c.pss_sigs_good) {
    out << "  pss-sigs-good: " << (*c.pss_sigs_good ? "true" : "false") << "\n";
  }
  if (c.tcti) {
    out << "  tcti: " << yaml_quote(*c.tcti) << "\n";
  }
  out << "  token-init: " << (c.token_init ? "true" : "false") << "\n";
  return out.str();
}

void
run_verify(const VerifyOptions& o, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  Token token = find_token(st, o.label);
  Primary primary = find_primary(st, token.pid);
  auto seal = st.seal_object(token.id);
  if (!seal) {
    throw Error(ExitCode::k_general, "token \"" + o.label + "\" has no seal objects in the store",
                "initialize it first (C_InitToken or 'tpm2-ptool addtoken')");
  }
  std::optional<SecureBytes> sopin;
  std::optional<SecureBytes> userpin;
  if (o.auth.sopin.given()) {
    sopin = read_secret(o.auth.sopin, Prompt::k_never);
  }
  if (o.auth.userpin.given()) {
    userpin = read_secret(o.auth.userpin, Prompt::k_never);
  } else if (!sopin) {
    userpin =
      token.config.empty_user_pin ? SecureBytes{} : read_secret(o.auth.userpin, Prompt::k_existing);
  }
  if (userpin && !seal->user) {
    throw Error(ExitCode::k_auth, "token \"" + o.label + "\" has no user PIN yet",
                "set one with 'tpm2-ptool initpin', or verify the SO PIN with --sopin");
  }
  SecureBytes hierarchy_auth = read_secret(o.auth.hierarchy_auth, Prompt::k_never, "");
  std::cerr << "tpm2-ptool: warning: verify prints the token's secrets (seal auths, wrapping "
               "key, object auths); keep its output private\n";

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  SecureBytes key;
  SecureBytes so_auth;
  SecureBytes user_auth;
  if (sopin) {
    so_auth = crypto::hash_pass(*sopin, seal->so.salt);
    key = tpm::unseal_wrapping_key(pc, seal->so, *sopin);
  }
  if (userpin) {
    user_auth = crypto::hash_pass(*userpin, seal->user->salt);
    key = tpm::unseal_wrapping_key(pc, *seal->user, *userpin);
  }

  std::ostringstream objects;
  for (const Object& obj : st.objects(token.id)) {
    const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);
    objects << "- auth: ";
    if (enc && !enc->empty()) {
      const Bytes* pub = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
      const Bytes* priv = keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
      if (pub && priv) {
        // Like upstream: the key's blobs must still load under the primary.
        pc.load(tpm::unmarshal_public(*pub), tpm::unmarshal_private(*priv));
      }
      SecureBytes auth = crypto::unwrap_auth(key, to_string(*enc));
      objects << scalar(auth.view()) << "\n  encauth: " << yaml_quote(to_string(*enc));
    } else {
      objects << "null\n  encauth: null";
    }
    objects << "\n  id: " << obj.id << "\n";
  }

  std::ostringstream out;
  out << config_yaml(token.config) << "label: " << yaml_quote(o.label) << "\n";
  std::string list = objects.str();
  out << "objects:" << (list.empty() ? " []\n" : "\n" + list);
  out << "pin:\n";
  if (sopin) {
    out << "  so:\n    seal-auth: " << scalar(so_auth.view()) << "\n";
  }
  if (userpin) {
    out << "  user:\n    seal-auth: " << scalar(user_auth.view()) << "\n";
  }
  // Upstream prints the hex of the unsealed text (the key's 64 hex characters).
  out << "wrappingkey:\n";
  if (userpin) {
    out << "  auth: " << scalar(user_auth.view()) << "\n";
  }
  out << "  hex: " << scalar(to_hex(to_hex(key))) << "\n";
  if (sopin) {
    out << "  soauth: " << scalar(so_auth.view()) << "\n";
  }
  std::cout << out.str() << "\n";
}

} // namespace

void
add_verify(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<VerifyOptions>();
  CLI::App* sub = app.add_subcommand(
    "verify", "Check a token's PINs with the TPM and print its secrets (as upstream)");
  sub->footer("Output reveals seal auths, the wrapping key and every object auth.\n"
              "Example: tpm2-ptool verify --label ssh --userpin-file pin.txt");
  sub->add_option("--label", opts->label, "label of the token")->required();
  add_secret_option(sub, opts->auth.userpin, "the token's user PIN");
  add_secret_option(sub, opts->auth.sopin, "the token's SO PIN");
  add_secret_option(sub, opts->auth.hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->callback([opts, &g]() { run_verify(*opts, g); });
}

} // namespace ptool::cli
