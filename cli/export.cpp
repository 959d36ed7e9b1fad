// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool export: a token's key as TSS2 PRIVATE KEY PEM (tpm2-openssl, tpm2-tss-engine),
// tpm2-tools blobs, or (public keys) SubjectPublicKeyInfo PEM. Only TPM-wrapped blobs leave
// the store; the key itself never leaves the TPM.
#include <iostream>
#include <memory>
#include <vector>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/output_file.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/keys/tss2_pem.hpp"
#include "core/tpm/key_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct ExportOptions
{
  std::optional<int64_t> id;
  std::optional<std::string> label;
  std::optional<std::string> key_label;
  std::string format = "auto";
  std::optional<std::string> output_prefix;
  bool force = false;
  std::optional<std::string> new_auth_file;
  TokenAuthOptions auth;
  OutputFormat output;
};

Object
find_object(const store::Store& st, const ExportOptions& o)
{
  if (o.id) {
    auto obj = st.object(*o.id);
    if (!obj) {
      throw_not_found("No object with id " + std::to_string(*o.id),
                      "list a token's objects with 'tpm2-ptool listobjects --label L'");
    }
    return std::move(*obj);
  }
  Token token = find_token(st, *o.label);
  for (Object& obj : st.objects(token.id)) {
    const Bytes* label = keys::attr_bytes(obj.attrs, ck::k_label);
    if (keys::attr_int(obj.attrs, ck::k_class) == ck::k_o_private_key && label
        && to_string(*label) == *o.key_label) {
      return std::move(obj);
    }
  }
  throw_not_found("No private key labeled \"" + *o.key_label + "\" in token \"" + *o.label + "\"",
                  "list the token's objects with 'tpm2-ptool listobjects --label " + *o.label
                    + "'");
}

const Bytes&
need_blob(const Object& obj, uint64_t type)
{
  const Bytes* b = keys::attr_bytes(obj.attrs, type);
  if (!b || b->empty()) {
    throw Error(ExitCode::k_general, "object " + std::to_string(obj.id) + " has no TPM blobs",
                "only keys held by the TPM can be exported");
  }
  return *b;
}

void
run_export(const ExportOptions& o, const GlobalOptions& g)
{
  // 1. Validate the selection before touching anything.
  if (o.id && (o.label || o.key_label)) {
    throw_usage("give either --id or --label with --key-label, not both");
  }
  if (!o.id && !(o.label && o.key_label)) {
    throw_usage("Must specify --label and --key-label or --id");
  }
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  Object obj = find_object(st, o);
  std::string prefix = o.output_prefix.value_or(o.id ? std::to_string(*o.id) : *o.key_label);
  uint64_t cls = keys::attr_int(obj.attrs, ck::k_class).value_or(~0ULL);

  if (cls == ck::k_o_public_key) {
    auto key = keys::public_key_from_attrs(obj.attrs);
    if (!key) {
      throw Error(ExitCode::k_usage,
                  "object " + std::to_string(obj.id) + " is not an RSA or EC key");
    }
    check_output_free(prefix + ".pem", o.force);
    write_private_file(prefix + ".pem", keys::public_key_pem(key->get()), o.force);
    if (o.output.json()) {
      print_document(YamlNode::map({}), o.output); // upstream prints nothing here
    }
    return;
  }
  if (cls != ck::k_o_private_key && cls != ck::k_o_secret_key) {
    throw_usage("object " + std::to_string(obj.id) + " is not a key",
                "export handles private, secret and public key objects");
  }
  const bool pem = cls == ck::k_o_private_key && o.format != "tpm2";
  if (!pem && o.format == "pem") {
    throw_usage("A format of \"pem\" is not supported for CKO_SECRET_KEY objects",
                "use --format tpm2");
  }
  std::vector<std::string> outputs;
  if (pem) {
    outputs = {prefix + ".pem"};
  } else {
    outputs = {prefix + ".priv", prefix + ".pub"};
  }

  // 2. Token, primary, PIN; every output name checked before the TPM is used.
  std::optional<Token> token;
  for (Token& t : st.tokens()) {
    if (t.id == obj.tokid) {
      token = std::move(t);
    }
  }
  if (!token) {
    throw Error(ExitCode::k_general, "object " + std::to_string(obj.id) + " has no token");
  }
  auto [tok, primary, seal] = store::load_token(st, std::move(*token));
  if (!pem && !primary.transient) {
    outputs.push_back(prefix + ".tr");
  }
  for (const std::string& out : outputs) {
    check_output_free(out, o.force);
  }
  ChosenPin pin = choose_pin(o.auth, tok);
  if (!pin.so && !seal.user) {
    throw Error(ExitCode::k_auth, "token has no user PIN yet", "use --sopin");
  }
  std::optional<SecureBytes> new_auth;
  if (o.new_auth_file) {
    SecretOption file_opt{"--new-auth", "", "new key password"};
    file_opt.file = *o.new_auth_file;
    new_auth = read_secret(file_opt, Prompt::k_never);
  }
  SecureBytes hierarchy_auth = read_secret(o.auth.hierarchy_auth, Prompt::k_never, "");
  TPM2B_PUBLIC pub = tpm::unmarshal_public(need_blob(obj, ck::k_tpm2_pub_blob));
  TPM2B_PRIVATE priv = tpm::unmarshal_private(need_blob(obj, ck::k_tpm2_priv_blob));
  const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);

  // 3. TPM: the object auth; with --new-auth-file a re-keyed copy of the private blob.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  // The session ends with its last command (the Unseal, or the ObjectChangeAuth).
  SecureBytes key =
    token::unseal_wrapping_key(pc, pin.so ? seal.so : *seal.user, pin.pin, !new_auth);
  SecureBytes objauth =
    enc && !enc->empty() ? crypto::unwrap_auth(key, to_string(*enc)) : SecureBytes{};
  if (new_auth) {
    priv = tpm::change_auth(pc, pub, priv, objauth, *new_auth, tpm::AuthKind::k_none, true);
  }
  const SecureBytes& final_auth = new_auth ? *new_auth : objauth;

  // 4. Files.
  if (pem) {
    keys::Tss2Key k;
    k.empty_auth = final_auth.empty();
    // tpm2-openssl re-creates its own owner primary for 0x40000001 (the tss2-engine-key
    // template); a persistent primary is named by its handle.
    k.parent = keys::tss2_parent(primary);
    k.pub = tpm::marshal_public(pub);
    k.priv = tpm::marshal_private(priv);
    if (primary.transient && primary.template_name != "tss2-engine-key") {
      std::cerr << "tpm2-ptool: warning: the token's transient primary uses the '"
                << primary.template_name << "' template; OpenSSL's tpm2 provider loads keys "
                << "with parent 0x40000001 only under a tss2-engine-key primary\n";
    }
    write_private_file(outputs[0], keys::encode_tss2_pem(k), o.force);
  } else {
    write_private_file(outputs[0], tpm::marshal_private(priv), o.force);
    write_private_file(outputs[1], tpm::marshal_public(pub), o.force);
    if (outputs.size() > 2) {
      write_private_file(outputs[2], primary.esys_tr, o.force);
    }
  }

  // 5. Upstream's report (scripts grep object-auth); no secret when the user chose it.
  Entries report;
  if (!new_auth) {
    report.emplace_back(str("object-auth"), YamlNode::secret_string(objauth));
  }
  report.emplace_back(str("primary-object"),
                      YamlNode::map({{str("auth"), YamlNode::secret_string(primary.objauth)},
                                     {str("hierarchy"), str("owner")},
                                     {str("is_transient"), YamlNode::boolean(primary.transient)}}));
  print_document(YamlNode::map(std::move(report)), o.output);
}

} // namespace

void
add_export(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Export a key as TSS2 PEM, tpm2-tools blobs or "
                                               "public-key PEM");
  sub->footer("Example: tpm2-ptool export --label ssh --key-label laptop --userpin-file pin.txt\n"
              "         openssl pkeyutl -sign -provider tpm2 -provider default -inkey laptop.pem "
              "...");
  sub->add_option("--id", opts->id, "object id (from listobjects)");
  sub->add_option("--label", opts->label, "label of the token");
  sub->add_option("--key-label", opts->key_label, "label of the private key");
  complete_as(
    sub->add_option("--format", opts->format, "auto|tpm2|pem (default auto: pem for private keys)")
      ->check(CLI::IsMember({"auto", "tpm2", "pem"})),
    ValueKind::k_words, {"auto", "tpm2", "pem"});
  sub->add_option("--output-prefix", opts->output_prefix,
                  "output file prefix; default the id or key label");
  sub->add_flag("--force", opts->force, "replace existing output files");
  sub
    ->add_option("--new-auth-file", opts->new_auth_file,
                 "give the exported copy the password read from FILE (store copy unchanged)")
    ->type_name("FILE");
  add_token_auth_options(sub, opts->auth);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_export(*opts, g); });
}

} // namespace ptool::cli
