// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool init: create (or adopt) the primary object tokens hang under.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"

namespace ptool::cli {

namespace {

struct InitOptions
{
  SecretOption primary_auth{"--primary-auth", "TPM2_PTOOL_PRIMARY_AUTH", "primary object auth"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth", "--owner-auth"};
  CLI::Option* primary_handle_opt = nullptr;
  CLI::Option* transient_opt = nullptr;
  std::string primary_handle;
  std::string transient_parent;
  OutputFormat output;
};

void
run_init(const InitOptions& o, const GlobalOptions& g)
{
  // 1. Validate: everything that can be wrong with the command line fails here.
  const bool adopt = o.primary_handle_opt->count() > 0;
  const bool transient = o.transient_opt->count() > 0;
  std::string template_name =
    transient && !o.transient_parent.empty() ? o.transient_parent : "tpm2-tools-default";
  if (transient && !tpm::primary_template(template_name)) {
    throw_usage("unknown --transient-parent template '" + template_name + "'",
                "choose tpm2-tools-default, tpm2-tools-ecc-default or tss2-engine-key");
  }
  Bytes adopt_tr;
  std::optional<TPM2_HANDLE> adopt_handle;
  if (adopt) {
    std::string h = o.primary_handle.empty() ? "0x81000001" : o.primary_handle;
    std::error_code ec;
    if (std::filesystem::is_regular_file(h, ec)) {
      std::ifstream in(h, std::ios::binary);
      adopt_tr.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (adopt_tr.empty()) {
        throw_usage("ESYS_TR file " + h + " is empty");
      }
    } else {
      int64_t v = parse_number(h, "--primary-handle");
      if (v < 0 || v > 0xffffffffLL) {
        throw_usage("--primary-handle " + h + " is out of range");
      }
      adopt_handle = static_cast<TPM2_HANDLE>(v);
    }
  }
  SecureBytes primary_auth = read_secret(o.primary_auth, Prompt::k_never, "");
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");

  // 2. Resolve: the store (created when missing).
  store::Store st = open_store(g, store::Store::Mode::k_read_write);

  // 3. TPM work; nothing persists unless the store row is committed.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  Primary p;
  p.objauth = primary_auth;
  std::optional<tpm::PersistentPrimary> created;
  if (transient) {
    tpm::validate_transient_primary(ctx.get(), template_name, hierarchy_auth, primary_auth);
    p.transient = true;
    p.template_name = template_name;
  } else if (adopt) {
    p.esys_tr = adopt_handle ? tpm::read_persistent(ctx.get(), *adopt_handle) : adopt_tr;
  } else {
    created.emplace(ctx.get(), hierarchy_auth, primary_auth, std::nullopt);
    p.esys_tr = created->result().esys_tr;
  }

  // 4. One transaction, then output.
  store::Transaction tx(st);
  int64_t id = st.insert_primary(p);
  tx.commit();
  if (created) {
    created->commit();
  }
  print_document(YamlNode::map({{str("action"), str(adopt ? "Added" : "Created")},
                                {str("id"), YamlNode::integer(id)}}),
                 o.output);
}

} // namespace

void
add_init(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<InitOptions>();
  CLI::App* sub = app.add_subcommand("init", "Create a primary object (the parent of tokens) "
                                             "and print its id");
  sub->footer("Example: tpm2-ptool init\n         tpm2-ptool init --primary-handle 0x81000001");
  add_secret_option(sub, opts->primary_auth,
                    "auth value of the new primary object (default empty)");
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (default empty)");
  opts->primary_handle_opt =
    sub
      ->add_option("--primary-handle", opts->primary_handle,
                   "use an existing persistent key (handle or ESYS_TR file) instead of "
                   "creating one; default 0x81000001")
      ->expected(0, 1)
      ->type_name("[HANDLE]");
  opts->transient_opt =
    sub
      ->add_option("--transient-parent", opts->transient_parent,
                   "re-create the primary from a template on every use instead of persisting "
                   "it: tpm2-tools-default (default), tpm2-tools-ecc-default, tss2-engine-key")
      ->expected(0, 1)
      ->type_name("[TEMPLATE]");
  opts->primary_handle_opt->excludes(opts->transient_opt);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_init(*opts, g); });
}

} // namespace ptool::cli
