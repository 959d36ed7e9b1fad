// SPDX-License-Identifier: BSD-2-Clause
#pragma once

// Upstream tpm2_ptool parses its command line with Python's argparse; scripts written for it
// rely on argparse's rules (the last of a repeated option wins, unique prefixes of long
// options, `--opt=value`, `--` ends options, a value may start with '-' only if it looks like
// a negative number or holds a space). normalise_argv() applies those rules to the raw
// arguments, once, in front of CLI11, and hands CLI11 a canonical command line: every option
// at most once, spelt out in full as `--name=value`, then `--` and the positional arguments.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace ptool::cli {

enum class Arity { k_none, k_one, k_optional }; // store_true, one value, nargs='?'

// One option of a (sub)command as argparse would see it.
struct ArgOption
{
  std::vector<std::string> names; // one option string, with dashes (see `group` for aliases)
  Arity arity = Arity::k_one;
  bool upstream = false;   // upstream 1.9.0 declares it (wins prefix matches over our additions)
  bool secret = false;     // its value is stashed and wiped, never copied into a std::string
  bool python_int = false; // upstream's type=int: Python's int() rules, passed on in decimal
  bool help = false;
  std::vector<std::string> choices; // upstream's choices=, checked on every occurrence
  bool parent = false; // a top-level option CLI11 reaches by fallthrough (--tcti, --path)
  int group = 0;       // entries with the same group are names of one CLI11 option
};

struct ArgPositional
{
  std::string name;
  char nargs = '1'; // '1', '?' or '*', as argparse's None, '?' and '*'
};

struct ArgCommand
{
  std::string name;
  std::vector<ArgOption> options;
  std::vector<ArgPositional> positionals;
  // Names of one destination upstream keeps in a mutually exclusive group (init's
  // --hierarchy-auth and --owner-auth): a non-empty value of both is a usage error.
  std::vector<std::pair<std::string, std::string>> exclusive_aliases;
  // Commands of a command (`attest enroll`, ...): the next word names one, which parses the rest.
  std::vector<ArgCommand> children;
};

struct ArgTable
{
  ArgCommand top; // the top-level options, before the command
  std::vector<ArgCommand> commands;
};

// Builds the table from the CLI11 tree, marking what upstream 1.9.0 declares.
ArgTable arg_table(const CLI::App& app);

// Called with each secret value (a view into argv, which the callee may wipe); returns the
// placeholder CLI11 sees instead.
using SecretSink = std::function<std::string(std::string_view)>;

struct NormalisedArgv
{
  std::vector<std::string> args; // for CLI11, without argv[0]
  std::string command;           // the subcommand ("" if none)
  bool no_command = false;       // nothing but global options: print the help, exit 0
};

// Throws ptool::Error(k_usage) with argparse's verdict (and "did you mean" suggestions).
NormalisedArgv normalise_argv(const std::vector<std::string_view>& argv, const ArgTable& table,
                              const SecretSink& secret);

// Levenshtein distance (for suggestions).
size_t edit_distance(std::string_view a, std::string_view b);

} // namespace ptool::cli
