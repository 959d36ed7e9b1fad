// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool rmtoken: delete a token with its seal objects and objects. The TPM keeps
// nothing for a token (its objects are blobs in the store), so this is a store change only.
#include <memory>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"

namespace ptool::cli {

namespace {

void
run_rmtoken(const std::string& label, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  store::Transaction tx(st);
  int64_t id = 0;
  try {
    id = find_token(st, label).id;
  } catch (const store::BadRowError& e) {
    if (e.table() != "tokens") {
      throw;
    }
    id = e.id(); // an unreadable token row can still be removed, with its children
  }
  st.delete_token(id);
  tx.commit();
}

} // namespace

void
add_rmtoken(CLI::App& app, const GlobalOptions& g)
{
  auto label = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("rmtoken", "Remove a token and all its objects");
  sub->footer("Example: tpm2-ptool rmtoken --label ssh");
  sub->add_option("--label", *label, "label of the token to remove")->required();
  sub->callback([label, &g]() { run_rmtoken(*label, g); });
}

} // namespace ptool::cli
