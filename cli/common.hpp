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

// The arguments CLI11 parses. The values of secret options (--userpin X, --sopin=X, …) are
// moved into wiped memory and wiped from argv itself (/proc/PID/cmdline); CLI11 sees a
// placeholder instead, which argv_secret() turns back into the secret.
std::vector<std::string> take_argv(int argc, char** argv);
SecureBytes argv_secret(const std::string& value);

// Throws a usage error naming `what` unless `text` is well-formed UTF-8 (labels are shown as
// UTF-8 by the PKCS#11 library and by PyYAML-based tools).
void require_utf8(std::string_view text, const std::string& what);

// Opens the store named by --path / environment.
store::Store open_store(const GlobalOptions& g, store::Store::Mode mode);

// Parses a number written in any base (0x…, 0…, decimal); throws a usage error naming `what`.
int64_t parse_number(const std::string& text, const char* what);

// Quotes a string for YAML output the way PyYAML's safe_dump would for our values.
std::string yaml_quote(const std::string& s);

} // namespace ptool::cli
