// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool verify: check a token's PINs against the TPM and print its secrets, exactly as
// upstream's verify does (provisioning scripts parse this output).
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct VerifyOptions
{
  std::string label;
  TokenAuthOptions auth;
  OutputFormat output;
};

// Upstream's values are Python str: the emitter quotes them exactly where PyYAML would.
YamlNode
scalar(std::string_view s)
{
  return str(std::string(s));
}

YamlNode
config_node(const TokenConfig& c)
{
  Entries m;
  if (c.empty_user_pin) {
    m.emplace_back(str("empty-user-pin"), YamlNode::boolean(true));
  }
  if (c.pss_sigs_good) {
    m.emplace_back(str("pss-sigs-good"), YamlNode::boolean(*c.pss_sigs_good));
  }
  if (c.tcti) {
    m.emplace_back(str("tcti"), str(*c.tcti));
  }
  m.emplace_back(str("token-init"), YamlNode::boolean(c.token_init));
  return YamlNode::map(std::move(m));
}

void
run_verify(const VerifyOptions& o, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  auto [token, primary, seal] = store::load_token(
    st, o.label,
    {.require_init = false,
     .no_seal_hint = "initialize it first (C_InitToken or 'tpm2-ptool addtoken')"});
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
  if (userpin && !seal.user) {
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
    so_auth = crypto::hash_pass(*sopin, seal.so.salt);
    key = token::unseal_wrapping_key(pc, seal.so, *sopin);
  }
  if (userpin) {
    user_auth = crypto::hash_pass(*userpin, seal.user->salt);
    key = token::unseal_wrapping_key(pc, *seal.user, *userpin);
  }

  std::vector<YamlNode> objects;
  for (const Object& obj : st.objects(token.id)) {
    const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);
    YamlNode auth_node = YamlNode::null();
    YamlNode enc_node = YamlNode::null();
    if (enc && !enc->empty()) {
      const Bytes* pub = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
      const Bytes* priv = keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
      if (pub && priv) {
        // Like upstream: the key's blobs must still load under the primary.
        pc.load(tpm::unmarshal_public(*pub), tpm::unmarshal_private(*priv));
      }
      SecureBytes auth = crypto::unwrap_auth(key, to_string(*enc));
      auth_node = scalar(auth.view());
      enc_node = str(to_string(*enc));
    }
    objects.push_back(YamlNode::map({{str("auth"), std::move(auth_node)},
                                     {str("encauth"), std::move(enc_node)},
                                     {str("id"), YamlNode::integer(obj.id)}}));
  }

  Entries pin;
  if (sopin) {
    pin.emplace_back(str("so"), YamlNode::map({{str("seal-auth"), scalar(so_auth.view())}}));
  }
  if (userpin) {
    pin.emplace_back(str("user"), YamlNode::map({{str("seal-auth"), scalar(user_auth.view())}}));
  }
  // Upstream prints the hex of the unsealed text (the key's 64 hex characters).
  Entries wrapping;
  if (userpin) {
    wrapping.emplace_back(str("auth"), scalar(user_auth.view()));
  }
  wrapping.emplace_back(str("hex"), scalar(to_hex(to_hex(key))));
  if (sopin) {
    wrapping.emplace_back(str("soauth"), scalar(so_auth.view()));
  }
  print_document(YamlNode::map({{str("config"), config_node(token.config)},
                                {str("label"), str(o.label)},
                                {str("objects"), YamlNode::seq(std::move(objects))},
                                {str("pin"), YamlNode::map(std::move(pin))},
                                {str("wrappingkey"), YamlNode::map(std::move(wrapping))}}),
                 o.output);
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
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_verify(*opts, g); });
}

} // namespace ptool::cli
