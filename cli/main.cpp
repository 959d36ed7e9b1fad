// SPDX-License-Identifier: BSD-2-Clause
#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "cli/argv_rules.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/spinner.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/stale.hpp"

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
  // tpm2-tss logs every failed connection attempt and TPM error on stderr; we report errors
  // ourselves in one line. TPM2_PTOOL_LOG (or the library's own TSS2_LOG) brings them back.
  // Set here, before any thread exists, and only in the CLI (the module never calls setenv).
  if (!std::getenv("TPM2_PTOOL_LOG") && !std::getenv("TSS2_LOG")) {
    setenv("TSS2_LOG", "all+none", 1);
    ptool::tpm::set_quiet_tcti_init(true);
  }
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

  // argparse's rules (upstream's) turned into one canonical command line for CLI11. Secret
  // option values never reach CLI11's std::strings (they would be freed unwiped).
  std::string command;
  try {
    std::vector<std::string_view> raw(argv + 1, argv + argc);
    ptool::cli::NormalisedArgv norm =
      ptool::cli::normalise_argv(raw, ptool::cli::arg_table(app), ptool::cli::stash_secret);
    if (norm.no_command) {
      // As upstream: no command prints the usage and succeeds.
      std::cout << app.help();
      return 0;
    }
    command = norm.command;
    std::vector<std::string> args = std::move(norm.args);
    std::reverse(args.begin(), args.end());
    // A TPM without resource manager that is full of what killed processes left: the first
    // run has flushed its own handles on the way out, so everything still loaded is stale;
    // free it and run the command once more (same arguments, same secrets).
    const std::vector<std::string> original = args;
    ptool::tpm::retry_when_full(
      [&] {
        args = original;
        app.parse(args);
      },
      [&] { return ptool::tpm::resolve_tcti(global.tcti); }, [] { ptool::cli::replay_secrets(); },
      [](const std::string& line) { std::cerr << "tpm2-ptool: " << line << "\n"; });
    return 0; // the subcommand's callback ran inside parse()
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tpm2-ptool: " << tag("error:", "1;31") << " " << e.what() << "\n"
              << tag("hint:", "36") << " see 'tpm2-ptool "
              << (command.empty() ? std::string() : command + " ") << "--help'\n";
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
