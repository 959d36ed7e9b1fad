// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool verify: check a token's PINs against the TPM and print its secrets, exactly as
// upstream's verify does (provisioning scripts parse this output).
#include <algorithm>
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
// Every one printed here is a secret, so it stays in wiped memory up to the write(2).
YamlNode
secret(SecureBytes s)
{
  return YamlNode::secret_string(std::move(s));
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
  // The session ends with its last command: the last key's Load, or the last Unseal.
  const std::vector<Object> stored = st.objects(token.id);
  auto loads = [](const Object& obj) {
    const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);
    return enc && !enc->empty() && keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob)
           && keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
  };
  const auto last_load = std::find_if(stored.rbegin(), stored.rend(), loads);
  const bool no_load = last_load == stored.rend();
  if (sopin) {
    so_auth = crypto::hash_pass(*sopin, seal.so.salt);
    key = token::unseal_wrapping_key(pc, seal.so, *sopin, no_load && !userpin);
  }
  if (userpin) {
    user_auth = crypto::hash_pass(*userpin, seal.user->salt);
    key = token::unseal_wrapping_key(pc, *seal.user, *userpin, no_load);
  }

  std::vector<YamlNode> objects;
  for (const Object& obj : stored) {
    const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);
    YamlNode auth_node = YamlNode::null();
    YamlNode enc_node = YamlNode::null();
    if (enc && !enc->empty()) {
      const Bytes* pub = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
      const Bytes* priv = keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
      if (pub && priv) {
        // Like upstream: the key's blobs must still load under the primary.
        pc.load(tpm::unmarshal_public(*pub), tpm::unmarshal_private(*priv), &obj == &*last_load);
      }
      SecureBytes auth = crypto::unwrap_auth(key, to_string(*enc));
      auth_node = secret(std::move(auth));
      enc_node = str(to_string(*enc));
    }
    objects.push_back(YamlNode::map({{str("auth"), std::move(auth_node)},
                                     {str("encauth"), std::move(enc_node)},
                                     {str("id"), YamlNode::integer(obj.id)}}));
  }

  Entries pin;
  if (sopin) {
    pin.emplace_back(str("so"), YamlNode::map({{str("seal-auth"), secret(so_auth)}}));
  }
  if (userpin) {
    pin.emplace_back(str("user"), YamlNode::map({{str("seal-auth"), secret(user_auth)}}));
  }
  // Upstream prints the hex of the unsealed text (the key's 64 hex characters).
  Entries wrapping;
  if (userpin) {
    wrapping.emplace_back(str("auth"), secret(user_auth));
  }
  wrapping.emplace_back(str("hex"), secret(to_secure_hex(to_secure_hex(key))));
  if (sopin) {
    wrapping.emplace_back(str("soauth"), secret(so_auth));
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
