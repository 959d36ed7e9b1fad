// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/secure_bytes.hpp"
#include "store/store.hpp"

namespace ptool::cli {

// Options every subcommand accepts (defined on the top-level app, which lets subcommands
// fall through to them, so `tpm2-ptool addkey --path X` works as upstream's does).
struct GlobalOptions
{
  std::optional<std::string> tcti;
  std::optional<std::string> path;
};

// A secret that may come from argv (upstream compatibility, warned about), a file or fd
// (`-` = stdin), an environment variable, or a no-echo prompt. Never a CLI11-bound string
// beyond parsing: the argv copy is wiped in main().
struct SecretOption
{
  SecretOption(std::string flag_, std::string env_, std::string what_, std::string alias_ = {})
      : flag(std::move(flag_)), env(std::move(env_)), what(std::move(what_)),
        alias(std::move(alias_))
  {}
  std::string flag;  // "--userpin"
  std::string env;   // "TPM2_PTOOL_USERPIN" (empty: none)
  std::string what;  // "user PIN"
  std::string alias; // another accepted name, e.g. "--owner-auth" (may be empty)
  std::optional<SecureBytes> argv_value;
  std::optional<std::string> file;
  bool given() const { return argv_value || file || (!env.empty() && std::getenv(env.c_str())); }
};

// Adds `--<name>` and `--<name>-file` to `app`.
void add_secret_option(CLI::App* app, SecretOption& opt, const std::string& help);

// k_new_reask: a new secret asked twice, and both asked again when they differ (up to three
// times), as ssh-keygen does; k_new gives up at the first difference.
enum class Prompt { k_never, k_existing, k_new, k_new_reask };
// Reads the secret from the first source given. With no source: prompts on the terminal
// (twice for a new secret) when `prompt` allows and stdin is a tty, else returns `fallback`
// if set, else throws a usage error naming the options.
SecureBytes read_secret(const SecretOption& opt, Prompt prompt,
                        std::optional<std::string_view> fallback = std::nullopt);

// From now on read_secret() answers with what it read before from standard input or the
// prompt, instead of reading again (a command run a second time after a recoverable failure).
void replay_secrets();

// The values of secret options (--userpin X, --sopin=X, --user=X for --userpin, …) are moved
// into wiped memory and wiped from argv itself (/proc/PID/cmdline) by stash_secret() while
// the command line is normalised (cli/argv_rules.hpp); CLI11 sees the placeholder it returns,
// which argv_secret() turns back into the secret.
std::string stash_secret(std::string_view value_in_argv);
SecureBytes argv_secret(const std::string& value);
// Whether the option named (in full, e.g. "--userpin") carries a secret.
bool is_secret_option(std::string_view name);

// Throws a usage error naming `what` unless `text` is well-formed UTF-8 (labels are shown as
// UTF-8 by the PKCS#11 library and by PyYAML-based tools).
void require_utf8(std::string_view text, const std::string& what);

// Opens the store named by --path / environment.
store::Store open_store(const GlobalOptions& g, store::Store::Mode mode);

// For Store::objects_skipping / tokens_skipping in commands that list or search rows: one
// warning line on stderr per unreadable row, naming it and the command that removes it
// ('tpm2-ptool objdel ID', 'tpm2-ptool rmtoken --label L'); the command goes on without it.
store::Store::BadRow warn_bad_row();

// Parses a number written in any base (0x…, 0…, decimal); throws a usage error naming `what`.
int64_t parse_number(const std::string& text, const char* what);

// Upstream's y/N question on stderr; only an answer starting with y or Y proceeds.
bool confirm(const std::string& question);
// For commands that delete keys: with --yes, or with stdin not a terminal (scripts, as
// upstream), true; on a terminal, asks `question`. On "no", prints that nothing changed.
bool confirm_delete(bool yes, const std::string& question);

} // namespace ptool::cli
