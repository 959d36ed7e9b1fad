// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool addcert: store an X.509 certificate next to a token's private key.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/certificate.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::cli {

namespace {

struct AddCertOptions
{
  std::string cert;
  std::string label;
  std::optional<std::string> key_label;
  std::optional<std::string> key_id;
  OutputFormat output;
};

Bytes
read_cert(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_usage("cannot read certificate file " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return to_bytes(ss.str());
}

void
run_addcert(const AddCertOptions& o, const GlobalOptions& g)
{
  if (o.key_label.has_value() == o.key_id.has_value()) {
    throw_usage("Expected --key-label or --key-id to be specified", "give exactly one of them");
  }
  // upstream compares --key-id with the stored hex of CKA_ID (as listobjects prints it).
  std::optional<Bytes> wanted_id;
  if (o.key_id) {
    wanted_id = from_hex(*o.key_id);
    if (!wanted_id || wanted_id->empty()) {
      throw_usage("--key-id '" + *o.key_id + "' is not a hex CKA_ID",
                  "give the CKA_ID as listobjects prints it");
    }
  }
  Bytes pem = read_cert(o.cert);
  // Parse now so a bad certificate fails before the store is opened for writing.
  keys::certificate_attrs(pem, o.cert, {}, {});

  store::Store st = open_store(g, store::Store::Mode::k_existing);
  store::Transaction tx(st);
  Token token = find_token(st, o.label);
  std::optional<std::pair<Bytes, Bytes>> key; // (CKA_ID, CKA_LABEL) of the private key
  for (const Object& obj : st.objects(token.id)) {
    if (keys::attr_int(obj.attrs, ck::k_class) != ck::k_o_private_key) {
      continue;
    }
    const Bytes* id = keys::attr_bytes(obj.attrs, ck::k_id);
    const Bytes* label = keys::attr_bytes(obj.attrs, ck::k_label);
    bool match =
      o.key_label ? (label && to_string(*label) == *o.key_label) : (id && *id == *wanted_id);
    if (match) {
      key.emplace(id ? *id : Bytes{}, label ? *label : Bytes{});
      break;
    }
  }
  if (!key) {
    throw_not_found("token \"" + o.label + "\" has no private key "
                      + (o.key_label ? "labeled \"" + *o.key_label + "\"" : "with id " + *o.key_id),
                    "list its objects with 'tpm2-ptool listobjects --label " + o.label + "'");
  }
  AttrMap attrs = keys::certificate_attrs(pem, o.cert, key->first, key->second);
  st.insert_object(token.id, attrs);
  tx.commit();

  print_document(
    YamlNode::map({{str("action"), str("add")},
                   {str("cert"), YamlNode::map({{str("CKA_ID"), str(to_hex(key->first))}})}}),
    o.output, "");
}

} // namespace

void
add_addcert(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<AddCertOptions>();
  CLI::App* sub = app.add_subcommand("addcert", "Add an X.509 certificate for a private key");
  sub->footer("Example: tpm2-ptool addcert --label ssh --key-label laptop cert.pem");
  complete_as(sub->add_option("cert", opts->cert, "PEM certificate file")->required(),
              ValueKind::k_file);
  sub->add_option("--label", opts->label, "label of the token")->required();
  auto* kl = sub->add_option("--key-label", opts->key_label, "label of the private key");
  auto* ki = sub->add_option("--key-id", opts->key_id, "CKA_ID of the private key, in hex");
  kl->excludes(ki);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_addcert(*opts, g); });
}

} // namespace ptool::cli
