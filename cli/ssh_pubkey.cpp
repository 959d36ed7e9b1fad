// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool ssh-pubkey: authorized_keys lines for a token's keys, from the store alone.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/keys/ssh_summary.hpp"

namespace ptool::cli {

namespace {

struct SshPubkeyOptions
{
  std::string label;
  std::optional<std::string> key_label;
  std::optional<std::string> id;
  bool fingerprint = false;
  std::optional<std::string> authorized_keys_options;
  OutputFormat output;
};

bool
matches(const AttrMap& attrs, const SshPubkeyOptions& o)
{
  const Bytes* label = keys::attr_bytes(attrs, ck::k_label);
  const Bytes* id = keys::attr_bytes(attrs, ck::k_id);
  if (o.key_label && (!label || to_string(*label) != *o.key_label)) {
    return false;
  }
  // --id accepts what addkey printed (hex of CKA_ID) or the CKA_ID text itself.
  if (o.id && (!id || (to_hex(*id) != *o.id && to_string(*id) != *o.id))) {
    return false;
  }
  return true;
}

// A key made without --key-label has an empty CKA_LABEL (as upstream stores it), and OpenSSH
// would show no comment, or the module path in ssh-add -l. The line gets "<token>/<CKA_ID hex>"
// as its comment instead, which names the key for --id; the store is not changed.
AttrMap
with_comment(const AttrMap& attrs, const std::string& token_label)
{
  const Bytes* label = keys::attr_bytes(attrs, ck::k_label);
  if (label && !label->empty()) {
    return attrs;
  }
  const Bytes* id = keys::attr_bytes(attrs, ck::k_id);
  AttrMap shown = attrs;
  shown[ck::k_label] = AttrValue::data(to_bytes(token_label + "/" + (id ? to_hex(*id) : "")));
  return shown;
}

// JSON: what the text lines say, one object per key (see docs/schemas/ssh-pubkey.schema.json).
YamlNode
key_node(const AttrMap& attrs, const std::string& line, const SshPubkeyOptions& o)
{
  const Bytes* label = keys::attr_bytes(attrs, ck::k_label);
  const Bytes* id = keys::attr_bytes(attrs, ck::k_id);
  std::string fp_line = keys::openssh_fingerprint_line(attrs).value_or("0");
  std::string blob_start = line.substr(line.find(' ') + 1);
  size_t comment_at = blob_start.find(' ');
  std::string prefix = o.authorized_keys_options ? *o.authorized_keys_options + " " : "";
  return YamlNode::map(
    {{str("label"), str(label ? to_string(*label) : "")},
     {str("id"), str(id ? to_hex(*id) : "")},
     {str("key_type"), str(line.substr(0, line.find(' ')))},
     {str("bits"), YamlNode::integer(std::stoll(fp_line))},
     {str("public_key_line"), str(prefix + line)},
     {str("fingerprint"), str(keys::openssh_fingerprint(line))},
     {str("comment"),
      str(comment_at == std::string::npos ? "" : blob_start.substr(comment_at + 1))}});
}

void
run_ssh_pubkey(const SshPubkeyOptions& o, const GlobalOptions& g)
{
  // One authorized_keys line per key: options with a line break would start a new line.
  if (o.authorized_keys_options
      && (o.authorized_keys_options->empty()
          || o.authorized_keys_options->find_first_of("\r\n") != std::string::npos)) {
    throw_usage("--authorized-keys-options must be one non-empty line",
                "e.g. --authorized-keys-options 'from=\"10.0.0.0/8\",no-agent-forwarding'");
  }
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  Token token = find_token(st, o.label);
  // ssh-keygen -D lists the token's public-key objects in object order; so do we.
  size_t printed = 0;
  std::vector<YamlNode> keys_json;
  for (const Object& obj : st.objects_skipping(token.id, warn_bad_row())) {
    if (keys::attr_int(obj.attrs, ck::k_class) != ck::k_o_public_key || !matches(obj.attrs, o)) {
      continue;
    }
    AttrMap shown = with_comment(obj.attrs, token.label.value_or(""));
    auto line = o.fingerprint && !o.output.json() ? keys::openssh_fingerprint_line(shown)
                                                  : keys::openssh_public_line(shown);
    if (line && o.output.json()) {
      keys_json.push_back(key_node(obj.attrs, *line, o));
      ++printed;
    } else if (line) {
      if (o.authorized_keys_options) {
        std::cout << *o.authorized_keys_options << " ";
      }
      std::cout << *line << "\n";
      ++printed;
    }
  }
  if (printed == 0 && (o.key_label || o.id)) {
    throw_not_found("no RSA or EC key in token \"" + o.label + "\" matches "
                      + (o.key_label ? "--key-label " + *o.key_label : "--id " + *o.id),
                    "list the token's objects with 'tpm2-ptool listobjects --label " + o.label
                      + "'");
  }
  if (o.output.json()) {
    print_document(YamlNode::seq(std::move(keys_json)), o.output);
  }
}

} // namespace

void
add_ssh_pubkey(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<SshPubkeyOptions>();
  CLI::App* sub = app.add_subcommand("ssh-pubkey", "Print OpenSSH public keys (authorized_keys "
                                                   "lines) of a token's keys; needs no PIN or TPM");
  sub->footer("Example: tpm2-ptool ssh-pubkey --label ssh >> ~/.ssh/authorized_keys\n"
              "         tpm2-ptool ssh-pubkey --label ssh --fingerprint");
  sub->add_option("--label", opts->label, "label of the token")->required();
  auto* kl = sub->add_option("--key-label", opts->key_label, "only the key with this label");
  auto* id =
    sub->add_option("--id", opts->id, "only the key with this CKA_ID (as addkey printed it)");
  kl->excludes(id);
  auto* fp = sub->add_flag("--fingerprint", opts->fingerprint,
                           "print fingerprints as 'ssh-keygen -l' does: bits SHA256:... comment "
                           "(TYPE)");
  sub
    ->add_option("--authorized-keys-options", opts->authorized_keys_options,
                 "prefix each line with these authorized_keys options, e.g. "
                 "'from=\"10.0.0.0/8\",no-port-forwarding'")
    ->type_name("OPTIONS")
    ->excludes(fp);
  add_output_option(sub, opts->output, DefaultOutput::k_text);
  sub->callback([opts, &g]() { run_ssh_pubkey(*opts, g); });
}

} // namespace ptool::cli
