// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool rmkey (not in upstream): remove a key from a token with everything that
// belongs to it (private or secret object, public object, certificates: the rows sharing
// its CKA_ID), in one transaction.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::cli {

namespace {

struct RmKeyOptions
{
  std::string label;
  std::optional<std::string> key_label;
  std::optional<std::string> id;
  bool yes = false;
  OutputFormat output;
};

bool
is_key_class(std::optional<uint64_t> cls)
{
  return cls == ck::k_o_private_key || cls == ck::k_o_secret_key;
}

bool
is_removable_class(std::optional<uint64_t> cls)
{
  return is_key_class(cls) || cls == ck::k_o_public_key || cls == ck::k_o_certificate;
}

void
run_rmkey(const RmKeyOptions& o, const GlobalOptions& g)
{
  if (o.key_label.has_value() == o.id.has_value()) {
    throw_usage("give exactly one of --key-label and --id");
  }
  std::optional<Bytes> wanted_id;
  if (o.id) {
    wanted_id = from_hex(*o.id);
    if (!wanted_id || wanted_id->empty()) {
      throw_usage("--id '" + *o.id + "' is not a hex CKA_ID",
                  "give the CKA_ID as listobjects prints it");
    }
  }
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  // The rows to delete: the key named, and the public object and certificates sharing its id.
  // Unreadable rows are skipped, with the warning given once (on the first look).
  bool warned = false;
  auto select = [&](std::optional<Bytes> wanted) {
    Token token = find_token(st, o.label);
    std::vector<Object> objects = st.objects_skipping(
      token.id, warned ? store::Store::BadRow([](const Error&) {}) : warn_bad_row());
    warned = true;
    int64_t key_row = -1;
    if (o.key_label) {
      // The key is named by label: exactly one private/secret key may carry it.
      int found = 0;
      for (const Object& obj : objects) {
        const Bytes* label = keys::attr_bytes(obj.attrs, ck::k_label);
        if (is_key_class(keys::attr_int(obj.attrs, ck::k_class)) && label
            && to_string(*label) == *o.key_label) {
          const Bytes* id = keys::attr_bytes(obj.attrs, ck::k_id);
          wanted = id ? *id : Bytes{};
          key_row = obj.id;
          ++found;
        }
      }
      if (found == 0) {
        throw_not_found("token \"" + o.label + "\" has no key labeled \"" + *o.key_label + "\"",
                        "list its objects with 'tpm2-ptool listobjects --label " + o.label + "'");
      }
      if (found > 1) {
        throw_usage("token \"" + o.label + "\" has " + std::to_string(found) + " keys labeled \""
                      + *o.key_label + "\"",
                    "name the key by its CKA_ID with --id (see listobjects)");
      }
    }
    std::vector<int64_t> rows;
    for (const Object& obj : objects) {
      const Bytes* id = keys::attr_bytes(obj.attrs, ck::k_id);
      bool same_id = id && !wanted->empty() && *id == *wanted;
      if (obj.id == key_row
          || (is_removable_class(keys::attr_int(obj.attrs, ck::k_class)) && same_id)) {
        rows.push_back(obj.id);
      }
    }
    if (rows.empty()) {
      throw_not_found("token \"" + o.label + "\" has no key with id " + o.id.value_or(""),
                      "list its objects with 'tpm2-ptool listobjects --label " + o.label + "'");
    }
    return rows;
  };

  // Asked before the transaction, so no writer waits on the answer.
  std::vector<int64_t> asked = select(wanted_id);
  std::string what = o.key_label ? "key \"" + *o.key_label + "\"" : "the key with id " + *o.id;
  if (!confirm_delete(o.yes, "This will delete " + what + " (" + std::to_string(asked.size())
                               + " object" + (asked.size() == 1 ? "" : "s") + ") from token \""
                               + o.label + "\"; the private key cannot be recovered")) {
    return;
  }
  store::Transaction tx(st);
  std::vector<int64_t> rows = select(wanted_id);
  if (rows != asked) {
    throw Error(ExitCode::k_general,
                "token \"" + o.label
                  + "\" changed while asking; nothing "
                    "was deleted",
                "run rmkey again");
  }
  std::vector<YamlNode> removed;
  for (int64_t row : rows) {
    st.delete_object(row);
    removed.push_back(YamlNode::integer(row));
  }
  tx.commit();
  print_document(YamlNode::map({{str("action"), str("remove")},
                                {str("objects"), YamlNode::seq(std::move(removed))}}),
                 o.output, "");
}

} // namespace

void
add_rmkey(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<RmKeyOptions>();
  CLI::App* sub = app.add_subcommand(
    "rmkey", "Remove a key with its public object and certificates from a token");
  sub->footer("Example: tpm2-ptool rmkey --label ssh --key-label laptop");
  sub->add_option("--label", opts->label, "label of the token")->required();
  auto* kl = sub->add_option("--key-label", opts->key_label, "label of the key");
  auto* id =
    sub->add_option("--id", opts->id, "CKA_ID of the key in hex, as listobjects prints it");
  kl->excludes(id);
  sub->add_flag("--yes,-y", opts->yes, "do not ask for confirmation (it asks only on a terminal)");
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_rmkey(*opts, g); });
}

} // namespace ptool::cli
