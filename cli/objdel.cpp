// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool objdel: delete one object row (as listobjects numbers them).
#include <memory>

#include "cli/commands.hpp"
#include "core/error.hpp"

namespace ptool::cli {

namespace {

void
run_objdel(const std::string& id_text, const GlobalOptions& g)
{
  int64_t id = parse_number(id_text, "object id");
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  store::Transaction tx(st);
  if (!st.delete_object(id)) {
    throw_not_found("Not found, object with id: " + std::to_string(id),
                    "list a token's objects with 'tpm2-ptool listobjects --label L'");
  }
  tx.commit();
}

} // namespace

void
add_objdel(CLI::App& app, const GlobalOptions& g)
{
  auto id = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("objdel", "Delete an object from a token");
  sub->footer("Example: tpm2-ptool objdel 3");
  sub->add_option("id", *id, "id of the object (see listobjects)")->required();
  sub->callback([id, &g]() { run_objdel(*id, g); });
}

} // namespace ptool::cli
