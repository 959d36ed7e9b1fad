// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool listprimaries: the store's primary objects, printed as upstream prints them.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"

namespace ptool::cli {

namespace {

YamlNode
primary_config(const Primary& p)
{
  std::vector<YamlEntry> config;
  config.emplace_back(YamlNode::string("transient"), YamlNode::boolean(p.transient));
  if (p.transient) {
    config.emplace_back(YamlNode::string("template-name"), YamlNode::string(p.template_name));
  } else {
    config.emplace_back(YamlNode::string("esys-tr"), YamlNode::string(to_hex(p.esys_tr)));
  }
  return YamlNode::map(std::move(config));
}

void
run_listprimaries(const OutputFormat& output, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  std::vector<YamlNode> out;
  for (const Primary& p : st.primaries()) {
    out.push_back(YamlNode::map({{YamlNode::string("config"), primary_config(p)},
                                 {YamlNode::string("id"), YamlNode::integer(p.id)}}));
  }
  // Upstream prints nothing at all for an empty list, else the dump plus print()'s newline;
  // JSON always prints an array.
  if (!out.empty() || output.json()) {
    print_document(YamlNode::seq(std::move(out)), output);
  }
}

} // namespace

void
add_listprimaries(CLI::App& app, const GlobalOptions& g)
{
  CLI::App* sub = app.add_subcommand("listprimaries", "List the primary objects of the store");
  sub->footer("Example: tpm2-ptool listprimaries");
  auto output = std::make_shared<OutputFormat>();
  add_output_option(sub, *output);
  sub->callback([output, &g]() { run_listprimaries(*output, g); });
}

} // namespace ptool::cli
