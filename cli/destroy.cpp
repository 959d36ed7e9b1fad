// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool destroy: remove a primary object with all its tokens and objects from the
// store, and evict its persistent handle from the TPM.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/tpm/evict.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::cli {

namespace {

struct DestroyOptions
{
  std::optional<int64_t> pid;
  std::optional<std::string> handle;
  bool yes = false;
  bool keep_handle = false;
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

// destroy --handle: evict a persistent primary that no store row uses (an interrupted init
// leaves one behind; doctor reports it).
void
destroy_orphan(const DestroyOptions& o, const GlobalOptions& g)
{
  int64_t h = parse_number(*o.handle, "--handle");
  if (h < 0 || h > 0xffffffff) {
    throw_usage("invalid --handle '" + *o.handle + "'", "give a handle like 0x81000001");
  }
  auto handle = static_cast<uint32_t>(h);
  try {
    store::Store st = open_store(g, store::Store::Mode::k_read_only);
    for (const Primary& p : st.primaries()) {
      if (!p.transient && tpm::handle_of_serialized_tr(p.esys_tr) == handle) {
        throw_usage("primary " + std::to_string(p.id) + " uses persistent handle " + hex32(handle),
                    "primary " + std::to_string(p.id)
                      + "'s tokens and keys need it; nothing was evicted");
      }
    }
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_not_found) {
      throw;
    }
    // No store at all: no row can use the handle.
  }
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");
  if (!o.yes
      && !confirm("This will evict persistent handle " + hex32(handle)
                  + ", which no primary row uses, from the TPM")) {
    std::cerr << "tpm2-ptool: nothing changed\n";
    return;
  }
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  std::string tmpl = tpm::evict_orphan(ctx.get(), handle, hierarchy_auth);
  std::cerr << "tpm2-ptool: evicted the unused " << tmpl << " primary at " << hex32(handle) << "\n";
}

void
run_destroy(const DestroyOptions& o, const GlobalOptions& g)
{
  if (o.pid.has_value() == o.handle.has_value()) {
    throw_usage("destroy needs exactly one of --pid (a primary row) or --handle (an unused "
                "persistent primary)",
                "see 'tpm2-ptool listprimaries' and 'tpm2-ptool doctor'");
  }
  if (!o.yes && !isatty(STDIN_FILENO)) {
    throw_usage("destroy deletes the primary and everything under it; refusing without a "
                "terminal to confirm",
                "add --yes to confirm in scripts");
  }
  if (o.handle) {
    destroy_orphan(o, g);
    return;
  }
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  Primary primary = find_primary(st, *o.pid);
  uint32_t handle = primary.transient ? 0 : tpm::handle_of_serialized_tr(primary.esys_tr);
  if (handle != 0 && !o.keep_handle) {
    for (const Primary& other : st.primaries()) {
      if (other.id != primary.id && !other.transient
          && tpm::handle_of_serialized_tr(other.esys_tr) == handle) {
        throw Error(ExitCode::k_general,
                    "primary " + std::to_string(other.id) + " also uses persistent handle "
                      + hex32(handle) + "; evicting it would break that primary's tokens",
                    "use --keep-handle to remove only primary " + std::to_string(primary.id)
                      + "'s rows and leave the handle in the TPM");
      }
    }
  }
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");
  if (!o.yes) {
    std::string what = "This will delete the primary object of id \"" + std::to_string(*o.pid)
                       + "\" and all associated data from " + st.path().string();
    if (handle != 0 && !o.keep_handle) {
      what += " and evict persistent handle " + hex32(handle)
              + " (other stores on this TPM may use it too; 'tpm2-ptool init --repair' "
                "re-creates it for them)";
    }
    if (!confirm(what)) {
      std::cerr << "tpm2-ptool: nothing changed\n";
      return;
    }
  }

  // Delete first inside the transaction, evict, then commit: a refused eviction (wrong
  // hierarchy auth) rolls the rows back, so store and TPM never disagree.
  store::Transaction tx(st);
  st.delete_primary(primary.id);
  if (handle != 0 && !o.keep_handle) {
    tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
    if (tpm::evict_persistent(ctx.get(), primary.esys_tr, hierarchy_auth)
        == tpm::EvictResult::k_not_present) {
      std::cerr << "tpm2-ptool: warning: persistent handle " << hex32(handle)
                << " was already gone from the TPM; removed the store rows only\n";
    }
  }
  tx.commit();
}

} // namespace

void
add_destroy(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<DestroyOptions>();
  CLI::App* sub = app.add_subcommand(
    "destroy", "Remove a primary object with its tokens and objects, and evict it from the TPM");
  sub->footer("Example: tpm2-ptool destroy --pid 1 --yes\n"
              "         tpm2-ptool destroy --handle 0x81000002 --yes   (an orphan doctor reports)");
  auto* pid = sub->add_option("--pid", opts->pid, "id of the primary object (see listprimaries)");
  sub
    ->add_option("--handle", opts->handle,
                 "evict an unused tpm2-ptool primary at this persistent handle instead "
                 "(see doctor)")
    ->excludes(pid);
  add_secret_option(sub, opts->hierarchy_auth, "owner hierarchy auth (needed to evict)");
  sub->add_flag("--yes,-y", opts->yes, "do not ask for confirmation");
  sub->add_flag("--keep-handle", opts->keep_handle,
                "remove the store rows only; leave the persistent handle in the TPM");
  sub->callback([opts, &g]() { run_destroy(*opts, g); });
}

} // namespace ptool::cli
