// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool rmtoken: delete a token with its seal objects and objects. The TPM keeps
// nothing for a token (its objects are blobs in the store), so this is a store change only.
#include <memory>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"

namespace ptool::cli {

namespace {

struct RmTokenOptions
{
  std::string label;
  bool yes = false;
};

// The token's row id; an unreadable token row can still be removed, with its children.
int64_t
token_row(const store::Store& st, const std::string& label)
{
  try {
    return find_token(st, label).id;
  } catch (const store::BadRowError& e) {
    if (e.table() != "tokens") {
      throw;
    }
    return e.id();
  }
}

void
run_rmtoken(const RmTokenOptions& o, const GlobalOptions& g)
{
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  {
    // Asked before the transaction, so no writer waits on the answer.
    size_t n = st.objects_skipping(token_row(st, o.label), [](const Error&) {}).size();
    if (!confirm_delete(o.yes, "This will delete token \"" + o.label + "\" with its "
                                 + std::to_string(n) + " object" + (n == 1 ? "" : "s") + " from "
                                 + st.path().string() + "; its keys cannot be recovered")) {
      return;
    }
  }
  store::Transaction tx(st);
  st.delete_token(token_row(st, o.label));
  tx.commit();
}

} // namespace

void
add_rmtoken(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<RmTokenOptions>();
  CLI::App* sub = app.add_subcommand("rmtoken", "Remove a token and all its objects");
  sub->footer("Example: tpm2-ptool rmtoken --label ssh --yes\n"
              "On a terminal it asks first; --yes (or no terminal) does not ask.");
  sub->add_option("--label", opts->label, "label of the token to remove")->required();
  sub->add_flag("--yes,-y", opts->yes, "do not ask for confirmation");
  sub->callback([opts, &g]() { run_rmtoken(*opts, g); });
}

} // namespace ptool::cli
