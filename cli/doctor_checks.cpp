// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool doctor: the store's files and rows, and the programs that use the store.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/doctor.hpp"
#include "cli/module_path.hpp"
#include "core/error.hpp"
#include "store/inspect.hpp"
#include "store/store.hpp"

namespace ptool::cli {

namespace {

namespace fs = std::filesystem;

std::string
octal(unsigned mode)
{
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777U);
  return buf;
}

// Group/world-writable store files let another user swap keys or the primary's auth.
void
check_mode(Report& r, const char* what, const fs::path& p, unsigned mode)
{
  if (mode & 022) {
    r.warn(DoctorCheck::k_store_permissions,
           std::string(what) + " " + p.string() + " is group/world writable (" + octal(mode) + ")",
           "chmod go-w " + p.string());
  } else {
    r.ok(DoctorCheck::k_store_permissions,
         std::string(what) + " " + p.string() + " mode " + octal(mode));
  }
}

std::optional<fs::path>
in_path(const std::string& program)
{
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t colon = dirs.find(':', start);
    fs::path candidate = fs::path(dirs.substr(start, colon - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string::npos) {
      return std::nullopt;
    }
    start = colon + 1;
  }
}

std::optional<fs::path>
upstream_module()
{
  std::error_code ec;
  for (const char* base : {"/usr/lib", "/usr/lib64", "/usr/local/lib"}) {
    fs::path direct = fs::path(base) / "pkcs11" / "libtpm2_pkcs11.so";
    if (fs::exists(direct, ec)) {
      return direct;
    }
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      fs::path multiarch = entry.path() / "pkcs11" / "libtpm2_pkcs11.so";
      if (fs::exists(multiarch, ec)) {
        return multiarch;
      }
    }
  }
  return std::nullopt;
}

} // namespace

std::vector<Primary>
doctor_primaries(const GlobalOptions& g)
{
  try {
    return store::Store::open(store::locate(g.path), store::Store::Mode::k_read_only).primaries();
  } catch (const Error&) {
    return {};
  }
}

void
check_store(Report& r, const GlobalOptions& g)
{
  fs::path dir;
  try {
    dir = store::locate(g.path);
  } catch (const Error& e) {
    r.fail(DoctorCheck::k_store, std::string("store: ") + e.what(), e.hint());
    return;
  }
  try {
    store::check_access(dir, false);
  } catch (const Error& e) {
    r.fail(DoctorCheck::k_store, std::string("store: ") + e.what(), e.hint());
    return;
  }
  store::StoreFiles f = store::inspect_files(dir);
  if (!f.db_exists) {
    r.warn(DoctorCheck::k_store,
           "store: no " + std::string(store::k_db_name) + " in " + dir.string(),
           "create one with 'tpm2-ptool init', or point --path / TPM2_PKCS11_STORE at it");
    return;
  }
  r.ok(DoctorCheck::k_store, "store: " + f.db.string());
  check_mode(r, "store directory", f.dir, f.dir_mode);
  check_mode(r, "store database", f.db, f.db_mode);
  for (const fs::path& p : f.leftovers) {
    bool old = p.extension() == ".old";
    r.warn(DoctorCheck::k_store_leftovers,
           p.string() + " exists; "
             + (old ? "libtpm2_pkcs11 1.9.0 refuses to open any store "
                      "while it does"
                    : "upstream's tool refuses to upgrade while it does"),
           "after checking the store works, remove it: rm " + p.string());
  }
  try {
    store::Store st = store::Store::open(dir, store::Store::Mode::k_read_only);
    r.ok(DoctorCheck::k_schema, "schema version " + std::to_string(st.schema_version()));
    store::RowCounts c = store::count_rows(st);
    r.ok(DoctorCheck::k_rows, "rows: " + std::to_string(c.primaries) + " primaries, "
                                + std::to_string(c.tokens) + " tokens, "
                                + std::to_string(c.sealobjects) + " seal objects, "
                                + std::to_string(c.objects) + " objects");
  } catch (const Error& e) {
    r.fail(DoctorCheck::k_store, std::string("store: ") + e.what(), e.hint());
  }
}

void
check_tools(Report& r)
{
  std::error_code ec;
  const std::string module = module_path();
  if (fs::exists(module, ec)) {
    r.ok(DoctorCheck::k_module, "PKCS#11 module: " + module);
  } else {
    r.warn(DoctorCheck::k_module, "PKCS#11 module: not installed at " + module,
           "install tpm2-ptool's module to use the tokens from ssh and other PKCS#11 clients");
  }
  if (auto up = upstream_module()) {
    r.ok(DoctorCheck::k_upstream_module,
         "upstream libtpm2_pkcs11: " + up->string() + " (reads the same store)");
  } else {
    r.ok(DoctorCheck::k_upstream_module, "upstream libtpm2_pkcs11: not installed (not needed)");
  }
  std::string found, missing;
  for (const char* tool : {"ssh", "ssh-add", "ssh-keygen"}) {
    std::string& list = in_path(tool) ? found : missing;
    list += (list.empty() ? "" : " ") + std::string(tool);
  }
  if (missing.empty()) {
    r.ok(DoctorCheck::k_openssh, "OpenSSH: " + found);
  } else {
    r.warn(DoctorCheck::k_openssh, "OpenSSH: " + missing + " not found",
           "install openssh-client to use the tokens "
           "for SSH");
  }
}

const char*
doctor_check_name(DoctorCheck check)
{
  switch (check) {
  case DoctorCheck::k_tcti:
    return "tcti";
  case DoctorCheck::k_resource_manager:
    return "resource-manager";
  case DoctorCheck::k_tpm:
    return "tpm";
  case DoctorCheck::k_algorithms:
    return "algorithms";
  case DoctorCheck::k_persistent_handles:
    return "persistent-handles";
  case DoctorCheck::k_lockout:
    return "lockout";
  case DoctorCheck::k_loaded_handles:
    return "loaded-handles";
  case DoctorCheck::k_store:
    return "store";
  case DoctorCheck::k_store_permissions:
    return "store-permissions";
  case DoctorCheck::k_store_leftovers:
    return "store-leftovers";
  case DoctorCheck::k_schema:
    return "schema";
  case DoctorCheck::k_rows:
    return "rows";
  case DoctorCheck::k_module:
    return "module";
  case DoctorCheck::k_upstream_module:
    return "upstream-module";
  case DoctorCheck::k_openssh:
    return "openssh";
  }
  return "other";
}

} // namespace ptool::cli
