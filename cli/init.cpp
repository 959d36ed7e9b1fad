// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool init: create (or adopt) the primary object tokens hang under.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/default_primary.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"
#include "store/store.hpp"

namespace ptool::cli {

namespace {

struct InitOptions
{
  SecretOption primary_auth{"--primary-auth", "TPM2_PTOOL_PRIMARY_AUTH", "primary object auth"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth", "--owner-auth"};
  CLI::Option* primary_handle_opt = nullptr;
  CLI::Option* transient_opt = nullptr;
  CLI::Option* repair_opt = nullptr;
  std::string primary_handle;
  std::string transient_parent;
  bool repair = false;
  std::optional<int64_t> pid;
  OutputFormat output;
};

// Removes the store files (and directory) this run created when init fails before its row
// commits, so a failed init leaves nothing behind; a store that existed before, or that
// another process filled meanwhile, is left alone.
class NewStoreGuard
{
public:
  explicit NewStoreGuard(std::filesystem::path dir)
      : m_dir(std::move(dir)), m_db(m_dir / store::k_db_name)
  {
    // symlink_status: a link (even a dangling one) planted there is not this run's to remove.
    auto present = [](const std::filesystem::path& p) {
      std::error_code ec; // set for a missing path too: the type says which
      return std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found;
    };
    m_dir_existed = present(m_dir);
    m_db_existed = present(m_db);
    for (const char* suffix : k_suffixes) {
      std::filesystem::path p = m_db;
      p += suffix;
      if (!present(p)) {
        m_new_files.push_back(p);
      }
    }
  }
  ~NewStoreGuard()
  {
    if (m_committed || m_db_existed) {
      return;
    }
    try {
      {
        store::Store st = store::Store::open(m_dir, store::Store::Mode::k_read_only);
        if (!st.primaries().empty()) {
          return;
        }
      }
    } catch (...) {
      // Not readable as a store: it is still the empty file this run made.
    }
    std::error_code ec;
    for (const std::filesystem::path& p : m_new_files) {
      std::filesystem::remove(p, ec);
    }
    if (!m_dir_existed) {
      std::filesystem::remove(m_dir, ec); // only when empty
    }
  }
  NewStoreGuard(const NewStoreGuard&) = delete;
  NewStoreGuard& operator=(const NewStoreGuard&) = delete;
  void commit() { m_committed = true; }

private:
  std::filesystem::path m_dir;
  std::filesystem::path m_db;
  static constexpr const char* k_suffixes[] = {"", "-journal", "-wal", "-shm", ".lock"};
  bool m_dir_existed = true;
  bool m_db_existed = true;
  std::vector<std::filesystem::path> m_new_files; // what did not exist before this run
  bool m_committed = false;
};

// init --repair --pid N: put an evicted persistent primary back at its handle.
void
run_repair(const InitOptions& o, const GlobalOptions& g)
{
  if (!o.pid) {
    throw_usage("init --repair needs --pid N, the primary to re-create",
                "see 'tpm2-ptool listprimaries' and 'tpm2-ptool doctor'");
  }
  if (o.primary_handle_opt->count() > 0 || o.transient_opt->count() > 0 || o.primary_auth.given()) {
    throw_usage("init --repair takes only --pid and --hierarchy-auth",
                "the primary's handle, template and auth come from its store row");
  }
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  Primary p = find_primary(st, *o.pid);
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  if (tpm::repair_primary(ctx.get(), p, hierarchy_auth) == tpm::RepairResult::k_present) {
    print_document(
      YamlNode::map({{str("action"), str("Present")}, {str("id"), YamlNode::integer(p.id)}}),
      o.output);
    return;
  }
  print_document(
    YamlNode::map({{str("action"), str("Repaired")}, {str("id"), YamlNode::integer(p.id)}}),
    o.output);
}

void
run_init(const InitOptions& o, const GlobalOptions& g)
{
  if (o.repair) {
    run_repair(o, g);
    return;
  }
  if (o.pid) {
    throw_usage("--pid goes with --repair", "to create a primary, run 'tpm2-ptool init' alone");
  }
  // 1. Validate: everything that can be wrong with the command line fails here.
  bool adopt = o.primary_handle_opt->count() > 0;
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

  // 2. Resolve: the store (created when missing; removed again if this run fails).
  NewStoreGuard guard(store::locate(g.path));
  store::Store st = open_store(g, store::Store::Mode::k_read_write);

  // 3. TPM work; nothing persists unless the store row is committed.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  Primary p;
  p.objauth = primary_auth;
  DefaultPrimary d;
  std::optional<tpm::PersistentPrimary>& created = d.created;
  if (transient) {
    tpm::validate_transient_primary(ctx.get(), template_name, hierarchy_auth, primary_auth);
    p.transient = true;
    p.template_name = template_name;
  } else if (adopt) {
    p.esys_tr = adopt_handle ? tpm::read_persistent(ctx.get(), *adopt_handle) : adopt_tr;
  } else if (!primary_auth.empty()) {
    created.emplace(ctx.get(), hierarchy_auth, primary_auth, std::nullopt);
    p.esys_tr = created->result().esys_tr;
  } else {
    // A TPM whose default handle already holds a primary made from the very template init
    // uses: take that one (as --primary-handle does) rather than persisting an identical copy
    // at the next handle; the same seed and template give the same key.
    default_primary(ctx.get(), hierarchy_auth, d);
    adopt = d.adopted;
    p.esys_tr = d.esys_tr;
  }

  // 4. One transaction, then output.
  store::Transaction tx(st);
  int64_t id = st.insert_primary(p);
  tx.commit();
  guard.commit();
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
  complete_as(opts->primary_handle_opt, ValueKind::k_file); // or an ESYS_TR file
  opts->transient_opt =
    sub
      ->add_option("--transient-parent", opts->transient_parent,
                   "re-create the primary from a template on every use instead of persisting "
                   "it: tpm2-tools-default (default), tpm2-tools-ecc-default, tss2-engine-key")
      ->expected(0, 1)
      ->type_name("[TEMPLATE]");
  opts->primary_handle_opt->excludes(opts->transient_opt);
  opts->repair_opt = sub->add_flag(
    "--repair", opts->repair,
    "re-create the evicted persistent primary --pid N from its template at its handle "
    "(see doctor); refused when the TPM was cleared");
  sub->add_option("--pid", opts->pid,
                  "with --repair: id of the primary object (see "
                  "listprimaries)");
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_init(*opts, g); });
}

} // namespace ptool::cli
