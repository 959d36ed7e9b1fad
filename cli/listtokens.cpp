// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool listtokens: the tokens under one primary, printed as upstream prints them.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "cli/token_args.hpp"

namespace ptool::cli {

namespace {

void
run_listtokens(int64_t pid, const OutputFormat& output, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  // Upstream lists nothing for an unknown pid; a typo deserves an error instead.
  find_primary(st, pid);
  std::vector<YamlNode> out;
  for (const Token& t : st.tokens_skipping(warn_bad_row(), pid)) {
    out.push_back(YamlNode::map(
      {{YamlNode::string("id"), YamlNode::integer(t.id)},
       {YamlNode::string("label"), t.label ? YamlNode::string(*t.label) : YamlNode::null()}}));
  }
  if (!out.empty() || output.json()) {
    print_document(YamlNode::seq(std::move(out)), output);
  }
}

} // namespace

void
add_listtokens(CLI::App& app, const GlobalOptions& g)
{
  auto pid = std::make_shared<int64_t>(0);
  CLI::App* sub = app.add_subcommand("listtokens", "List the tokens under a primary object");
  sub->footer("Example: tpm2-ptool listtokens --pid 1");
  sub->add_option("--pid", *pid, "id of the primary object (see listprimaries)")->required();
  auto output = std::make_shared<OutputFormat>();
  add_output_option(sub, *output);
  sub->callback([pid, output, &g]() { run_listtokens(*pid, *output, g); });
}

} // namespace ptool::cli
