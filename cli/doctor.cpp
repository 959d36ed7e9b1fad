// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool doctor: one OK / WARN / FAIL line per thing that makes tokens work or not.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <cstdio>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/doctor.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/evict.hpp"
#include "core/tpm/stale.hpp"
#include "core/tpm/token_ops.hpp"
#include "store/inspect.hpp"

namespace ptool::cli {

namespace {

namespace fs = std::filesystem;

std::string
tcti_source(const GlobalOptions& g)
{
  if (g.tcti) {
    return "--tcti";
  }
  for (const char* var : {"TPM2_PKCS11_TCTI", "TPM2TOOLS_TCTI"}) {
    const char* v = std::getenv(var);
    if (v && *v) {
      return var;
    }
  }
  return "default";
}

void
check_resource_manager(Report& r, const std::optional<std::string>& tcti)
{
  std::string t = tcti.value_or("");
  bool rm_dev = fs::exists("/dev/tpmrm0");
  if (t.starts_with("tabrmd")) {
    r.ok(DoctorCheck::k_resource_manager, "resource manager: tpm2-abrmd");
  } else if (t.starts_with("device:/dev/tpmrm")) {
    r.ok(DoctorCheck::k_resource_manager, "resource manager: the kernel's (" + t.substr(7) + ")");
  } else if (t.starts_with("device")) {
    r.warn(DoctorCheck::k_resource_manager,
           "resource manager: none; " + t + " is the raw TPM device, one client at a time",
           rm_dev ? "use --tcti device:/dev/tpmrm0" : "load the kernel's tpm_crb/tpm_tis driver");
  } else if (t.empty()) {
    if (rm_dev) {
      r.ok(DoctorCheck::k_resource_manager,
           "resource manager: /dev/tpmrm0 present (tctildr tries tabrmd, then /dev/tpmrm0)");
    } else {
      r.warn(DoctorCheck::k_resource_manager, "resource manager: /dev/tpmrm0 absent",
             "start tpm2-abrmd or use a kernel with "
             "/dev/tpmrm0, or set TPM2TOOLS_TCTI");
    }
  } else {
    r.warn(DoctorCheck::k_resource_manager,
           "resource manager: none (" + t.substr(0, t.find(':')) + " is a simulator link)",
           "fine for tests; real TPMs are reached via device:/dev/tpmrm0 or tabrmd");
  }
}

void
check_algorithms(Report& r, ESYS_CONTEXT* ctx)
{
  std::string yes, no;
  for (const std::string& name : tpm::algorithm_names()) {
    auto alg = tpm::parse_algorithm(name);
    std::string& list = alg && tpm::supports(ctx, *alg) ? yes : no;
    list += (list.empty() ? "" : " ") + name;
  }
  if (yes.empty()) {
    r.fail(DoctorCheck::k_algorithms, "addkey algorithms: none supported",
           "this TPM accepts none of addkey's templates");
    return;
  }
  r.ok(DoctorCheck::k_algorithms,
       "addkey algorithms: " + yes + (no.empty() ? "" : " (not on this TPM: " + no + ")"));
}

struct DoctorOptions
{
  OutputFormat output;
  bool fix = false;
  bool yes = false;
  bool clear_lockout = false;
  SecretOption lockout_auth{"--lockout-auth", "TPM2_PTOOL_LOCKOUT_AUTH", "lockout hierarchy auth"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

// doctor --fix for a primary row whose persistent handle is empty: what 'init --repair --pid
// N' does (re-create it from its template, persist it at the same handle), after asking on a
// terminal or with --yes. Refused by repair_primary when the TPM no longer derives that
// primary (cleared): then the keys under it are gone, and the finding says so.
void
repair_lost_primary(Report& r, ESYS_CONTEXT* ctx, const Primary& p, TPM2_HANDLE h,
                    const DoctorOptions& o)
{
  const std::string id = std::to_string(p.id);
  const std::string lost =
    "primary " + id + " uses persistent handle " + hex32(h) + ", which is empty in this TPM";
  if (!o.yes) {
    if (!isatty(STDIN_FILENO)) {
      r.fail(DoctorCheck::k_persistent_handles,
             lost + "; not repaired without a terminal to ask on",
             "re-create it with 'tpm2-ptool doctor --fix --yes' (or 'tpm2-ptool init --repair "
             "--pid "
               + id + "')");
      return;
    }
    if (!confirm("Re-create primary " + id + " from its template at " + hex32(h)
                 + " (its keys load again)?")) {
      r.fail(DoctorCheck::k_persistent_handles, lost + "; not repaired (declined)",
             "re-create it with 'tpm2-ptool init --repair --pid " + id + "'");
      return;
    }
  }
  try {
    SecureBytes auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");
    if (tpm::repair_primary(ctx, p, auth) == tpm::RepairResult::k_repaired) {
      r.ok(DoctorCheck::k_persistent_handles, "primary " + id + ": re-created at persistent handle "
                                                + hex32(h) + "; its keys load again");
    } else {
      r.ok(DoctorCheck::k_persistent_handles, "persistent handle " + hex32(h) + ": primary " + id);
    }
  } catch (const Error& e) {
    r.fail(DoctorCheck::k_persistent_handles, lost + "; " + e.what(), e.hint());
  }
}

void
check_handles(Report& r, ESYS_CONTEXT* ctx, const std::vector<Primary>& primaries,
              const DoctorOptions& o)
{
  std::map<TPM2_HANDLE, std::vector<int64_t>> used;
  for (const Primary& p : primaries) {
    if (!p.transient) {
      used[tpm::handle_of_serialized_tr(p.esys_tr)].push_back(p.id);
    }
  }
  std::vector<TPM2_HANDLE> handles = tpm::persistent_handles(ctx);
  if (handles.empty()) {
    r.ok(DoctorCheck::k_persistent_handles, "persistent handles: none");
  }
  for (TPM2_HANDLE h : handles) {
    auto it = used.find(h);
    if (it != used.end()) {
      std::string ids;
      for (int64_t id : it->second) {
        ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      }
      r.ok(DoctorCheck::k_persistent_handles, "persistent handle " + hex32(h) + ": primary " + ids);
      used.erase(it);
    } else if (auto tmpl = tpm::matching_primary_template(ctx, h)) {
      // Never "unused": other stores (other users, other --path) and other tools may hang
      // their keys under it, and this store cannot see them.
      r.ok(DoctorCheck::k_persistent_handles,
           "persistent handle " + hex32(h) + ": a " + *tmpl
             + " primary not used by this store (other stores or tools may own it; to use it "
               "here: 'tpm2-ptool init --primary-handle "
             + hex32(h) + "')");
    } else {
      r.ok(DoctorCheck::k_persistent_handles,
           "persistent handle " + hex32(h) + ": not a tpm2-ptool primary");
    }
  }
  for (const auto& [h, ids] : used) {
    for (int64_t id : ids) {
      if (o.fix) {
        for (const Primary& p : primaries) {
          if (p.id == id) {
            repair_lost_primary(r, ctx, p, h, o);
          }
        }
        continue;
      }
      r.fail(DoctorCheck::k_persistent_handles,
             "primary " + std::to_string(id) + " uses persistent handle " + hex32(h)
               + ", which is empty in this TPM",
             "re-create it from its template with 'tpm2-ptool doctor --fix' or 'tpm2-ptool "
             "init --repair --pid "
               + std::to_string(id)
               + "' (refused if this is not the TPM the store was made on, or it was cleared)");
    }
  }
}

void
check_lockout(Report& r, const tpm::TpmProperties& p)
{
  std::string state = "dictionary-attack lockout: " + std::to_string(p.lockout_counter) + " of "
                      + std::to_string(p.max_auth_fail) + " failures";
  if (p.in_lockout) {
    r.fail(DoctorCheck::k_lockout, state + ", locked out",
           "wait " + std::to_string(p.lockout_interval)
             + " s per failure, or clear it with "
               "'tpm2-ptool doctor --clear-lockout' (lockout auth)");
  } else if (p.lockout_counter > 0) {
    r.warn(DoctorCheck::k_lockout, state,
           "a wrong PIN or auth was used; each failure is forgotten after "
             + std::to_string(p.lockout_interval) + " s");
  } else {
    r.ok(DoctorCheck::k_lockout, state);
  }
}

// Without a resource manager, whatever is loaded in the TPM while doctor holds it belongs
// to processes that were killed before they could flush it; it fills the TPM's few slots.
void
check_loaded(Report& r, ESYS_CONTEXT* ctx, const std::optional<std::string>& tcti, bool fix)
{
  if (!tpm::is_direct_tcti(tcti)) {
    return; // a resource manager owns (and cleans up) what its clients load
  }
  tpm::LoadedHandles n = tpm::count_loaded(ctx);
  std::string what = std::to_string(n.objects) + " transient object" + (n.objects == 1 ? "" : "s")
                     + ", " + std::to_string(n.sessions) + " loaded session"
                     + (n.sessions == 1 ? "" : "s");
  if (n.total() == 0) {
    r.ok(DoctorCheck::k_loaded_handles, "loaded in the TPM: " + what);
  } else if (fix) {
    tpm::LoadedHandles freed = tpm::flush_loaded(ctx);
    r.ok(DoctorCheck::k_loaded_handles,
         "loaded in the TPM: " + what + "; " + tpm::describe_flushed(freed));
  } else {
    r.warn(DoctorCheck::k_loaded_handles,
           "loaded in the TPM: " + what
             + ", left by killed processes (no resource manager on this TCTI)",
           "free them with 'tpm2-ptool doctor --fix' (or 'tpm2_flushcontext -t' and "
           "'tpm2_flushcontext -l'); the TPM runs out of slots otherwise");
  }
}

void
check_tpm(Report& r, const GlobalOptions& g, const std::vector<Primary>& primaries,
          const DoctorOptions& o)
{
  auto tcti = tpm::resolve_tcti(g.tcti);
  std::string name = tcti.value_or("default (tctildr probing)");
  try {
    tpm::EsysContext ctx(tcti);
    tpm::TpmProperties p = tpm::read_properties(ctx.get());
    r.ok(DoctorCheck::k_tcti, "TCTI " + name + " (from " + tcti_source(g) + "): the TPM answers");
    check_resource_manager(r, tcti);
    r.ok(DoctorCheck::k_tpm, "TPM: manufacturer " + p.manufacturer + ", vendor \"" + p.vendor
                               + "\", firmware " + tpm::firmware_text(p) + ", spec revision "
                               + std::to_string(p.revision / 100) + "."
                               + std::to_string(p.revision % 100));
    check_algorithms(r, ctx.get());
    check_handles(r, ctx.get(), primaries, o);
    check_loaded(r, ctx.get(), tcti, o.fix);
    check_lockout(r, p);
  } catch (const Error& e) {
    r.fail(DoctorCheck::k_tcti, "TCTI " + name + " (from " + tcti_source(g) + "): " + e.what(),
           e.hint());
  }
}

// doctor --clear-lockout: TPM2_DictionaryAttackLockReset, so users need not find
// tpm2_dictionarylockout (and it uses our TCTI resolution).
void
run_clear_lockout(const DoctorOptions& o, const GlobalOptions& g)
{
  SecureBytes auth = read_secret(o.lockout_auth, Prompt::k_existing, "");
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::clear_lockout(ctx.get(), auth);
  tpm::TpmProperties p = tpm::read_properties(ctx.get());
  std::cerr << "tpm2-ptool: dictionary-attack lockout cleared (" << p.lockout_counter << " of "
            << p.max_auth_fail << " failures)\n";
}

void
run_doctor(const DoctorOptions& o, const GlobalOptions& g)
{
  if (o.clear_lockout) {
    run_clear_lockout(o, g);
    return;
  }
  if (o.lockout_auth.argv_value || o.lockout_auth.file) {
    throw_usage("--lockout-auth is only used with --clear-lockout",
                "add --clear-lockout to reset the lockout, or drop --lockout-auth");
  }
  const OutputFormat& output = o.output;
  Report r(output.json());
  if (!o.fix && (o.yes || o.hierarchy_auth.argv_value || o.hierarchy_auth.file)) {
    throw_usage("--yes and --hierarchy-auth are only used with --fix",
                "add --fix to repair what doctor finds, or drop them");
  }
  check_tpm(r, g, doctor_primaries(g), o);
  check_store(r, g);
  check_tools(r);
  if (output.json()) {
    print_document(r.findings(), output); // before the exit status says whether any FAILed
  }
  if (r.fails() > 0) {
    throw Error(ExitCode::k_general, "doctor found " + std::to_string(r.fails()) + " problem"
                                       + (r.fails() == 1 ? "" : "s"));
  }
}

} // namespace

void
add_doctor(CLI::App& app, const GlobalOptions& g)
{
  CLI::App* sub = app.add_subcommand("doctor", "Check the TPM, the store and the tools that "
                                               "use them; one OK/WARN/FAIL line each");
  sub->footer("Example: tpm2-ptool doctor --tcti device:/dev/tpmrm0\n"
              "         tpm2-ptool doctor --fix --yes   (re-create an evicted primary)\n"
              "         tpm2-ptool doctor --clear-lockout --lockout-auth-file FILE\n"
              "Exit status 0 when nothing FAILs (WARN lines do not count), else 1.");
  auto opts = std::make_shared<DoctorOptions>();
  add_output_option(sub, opts->output, DefaultOutput::k_text);
  sub->add_flag("--fix", opts->fix,
                "free transient objects and sessions that killed processes left in a TPM "
                "without resource manager (swtpm:, mssim:, device:/dev/tpm0), and re-create "
                "evicted primaries at their handles (as 'init --repair'; asks on a terminal)");
  sub->add_flag("--yes,-y", opts->yes, "with --fix: repair without asking");
  add_secret_option(sub, opts->hierarchy_auth,
                    "owner hierarchy auth for re-creating a primary with --fix (default empty)");
  sub->add_flag("--clear-lockout", opts->clear_lockout,
                "reset the TPM's dictionary-attack lockout (TPM2_DictionaryAttackLockReset) "
                "instead of checking; needs the lockout auth (empty by default)");
  add_secret_option(sub, opts->lockout_auth,
                    "lockout hierarchy auth for --clear-lockout (prompted on a terminal, "
                    "default empty)");
  sub->callback([opts, &g]() { run_doctor(*opts, g); });
}

} // namespace ptool::cli
