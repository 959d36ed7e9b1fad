// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool listobjects: the objects (keys, certificates) of a token, printed as upstream
// prints them: CKA_ID as upstream's one-element list (its code builds a tuple), which scripts
// parse; `--output json` gives it as a plain string (docs/schemas).
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "cli/token_args.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "format/ck_names.hpp"

namespace ptool::cli {

namespace {

YamlNode
describe(const Object& o, bool json)
{
  std::vector<YamlEntry> d;
  d.emplace_back(YamlNode::string("id"), YamlNode::integer(o.id));
  const Bytes* label = keys::attr_bytes(o.attrs, ck::k_label);
  d.emplace_back(YamlNode::string("CKA_LABEL"),
                 YamlNode::string(label ? to_string(*label) : std::string()));
  auto cls = keys::attr_int(o.attrs, ck::k_class);
  d.emplace_back(YamlNode::string("CKA_CLASS"),
                 cls ? YamlNode::string(format::cko_name(*cls)) : YamlNode::null());
  if (const Bytes* id = keys::attr_bytes(o.attrs, ck::k_id)) {
    YamlNode hex = YamlNode::string(to_hex(*id));
    d.emplace_back(YamlNode::string("CKA_ID"), json ? hex : YamlNode::seq({hex}));
  }
  if (auto type = keys::attr_int(o.attrs, ck::k_key_type)) {
    d.emplace_back(YamlNode::string("CKA_KEY_TYPE"), YamlNode::string(format::ckk_name(*type)));
  }
  return YamlNode::map(std::move(d));
}

void
run_listobjects(const std::string& label, const OutputFormat& output, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  Token token = find_token(st, label);
  std::vector<YamlNode> out;
  for (const Object& o : st.objects_skipping(token.id, warn_bad_row())) {
    out.push_back(describe(o, output.json()));
  }
  if (!out.empty() || output.json()) {
    print_document(YamlNode::seq(std::move(out)), output);
  }
}

} // namespace

void
add_listobjects(CLI::App& app, const GlobalOptions& g)
{
  auto label = std::make_shared<std::string>();
  CLI::App* sub =
    app.add_subcommand("listobjects", "List the objects (keys, certificates) of a token");
  sub->footer("Example: tpm2-ptool listobjects --label ssh");
  sub->add_option("--label", *label, "label of the token")->required();
  auto output = std::make_shared<OutputFormat>();
  add_output_option(sub, *output);
  sub->callback([label, output, &g]() { run_listobjects(*label, *output, g); });
}

} // namespace ptool::cli
