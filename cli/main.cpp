// SPDX-License-Identifier: BSD-2-Clause
#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "cli/commands.hpp"
#include "cli/spinner.hpp"
#include "core/error.hpp"

namespace {

std::string
version_text()
{
  // tpm2-tss has no run-time version call; PTOOL_TSS2_VERSION is pkg-config's at build time.
  return std::string("tpm2-ptool " PTOOL_VERSION "\n"
                     "tpm2-tss " PTOOL_TSS2_VERSION " (ESAPI, built against), SQLite ")
         + sqlite3_libversion() + ", " + OPENSSL_VERSION_TEXT;
}

// "error:" in bold red, "hint:" in cyan, only on a terminal and without NO_COLOR.
std::string
tag(const char* text, const char* sgr)
{
  static const bool colour = ptool::cli::use_colour(2);
  return colour ? std::string("\033[") + sgr + "m" + text + "\033[0m" : std::string(text);
}

int
report(const ptool::Error& e)
{
  std::cerr << "tpm2-ptool: " << tag("error:", "1;31") << " " << e.what() << "\n";
  if (!e.hint().empty()) {
    std::cerr << tag("hint:", "36") << " " << e.hint() << "\n";
  }
  return static_cast<int>(e.code());
}

} // namespace

int
main(int argc, char** argv)
{
  // PINs, seal auths and wrapping keys pass through our memory: no core dumps, no ptrace by
  // other processes of the same user.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Everything we create (store directory, database, exported keys) is private to the user.
  umask(077);
  // tpm2-tss logs every failed connection attempt on stderr; we report errors ourselves in one
  // line. A user who wants the library's log still gets it by setting TSS2_LOG. Set here, while
  // the process has one thread (the PKCS#11 module never touches its host's environment).
  setenv("TSS2_LOG", "all+none", 0);
  ptool::cli::GlobalOptions global;
  CLI::App app{"Manage tpm2-pkcs11 stores: TPM-backed PKCS#11 tokens and keys", "tpm2-ptool"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.fallthrough();
  app
    .add_option("--tcti", global.tcti,
                "TPM connection (tctildr string, e.g. device:/dev/tpmrm0); default "
                "$TPM2_PKCS11_TCTI, $TPM2TOOLS_TCTI, then auto-detection")
    ->type_name("TCTI");
  app
    .add_option("--path", global.path,
                "store directory; default $TPM2_PKCS11_STORE, /etc/tpm2_pkcs11 if writable, "
                "~/.tpm2_pkcs11")
    ->type_name("DIR");
  ptool::cli::add_all_commands(app, global);

  // Secret option values never reach CLI11's std::strings (they would be freed unwiped).
  std::vector<std::string> args = ptool::cli::take_argv(argc, argv);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
    return 0; // the subcommand's callback ran inside parse()
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tpm2-ptool: " << tag("error:", "1;31") << " " << e.what() << "\n"
              << "hint: see 'tpm2-ptool --help'\n";
    return static_cast<int>(ptool::ExitCode::k_usage);
  } catch (const ptool::Error& e) {
    return report(e);
  } catch (const std::bad_alloc&) {
    std::cerr << "tpm2-ptool: error: out of memory\n";
    return static_cast<int>(ptool::ExitCode::k_general);
  } catch (const std::exception& e) {
    std::cerr << "tpm2-ptool: " << tag("error:", "1;31") << " " << e.what() << "\n";
    return static_cast<int>(ptool::ExitCode::k_general);
  }
}
