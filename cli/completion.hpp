// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ptool::cli {

// What a shell should offer after an option.
enum class ValueKind {
  k_flag, // takes no value
  k_any,  // free text: offer nothing
  k_file,
  k_dir,
  k_words,      // a fixed list (CompOption::words)
  k_labels,     // token labels from the store
  k_key_labels, // key labels of the token named by --label
  k_pids,       // primary ids from the store
  k_algorithms, // CompOption::words, cut down to what this TPM supports when it answers
};

struct CompOption
{
  std::string name; // with dashes: "--label", "-y"
  std::string help;
  ValueKind kind = ValueKind::k_flag;
  std::vector<std::string> words;
};

struct CompCommand
{
  std::string name;
  std::string help;
  std::vector<CompOption> options;
  bool file_positional = false;              // takes a positional argument that is a file
  std::vector<std::string> positional_words; // or one of these words
};

// What an option or positional completes to, declared where the option is defined (never
// guessed from its help text, so rewording help cannot change completion). Options without a
// tag complete by their name's usual meaning (--label: existing token labels, --key-label,
// --pid, --tcti, --transient-parent, --path, --*-file), then by their type name (FILE, DIR),
// else to nothing. Returns `opt` for chaining.
CLI::Option* complete_as(CLI::Option* opt, ValueKind kind, std::vector<std::string> words = {});

// The command line as the shells see it, read from the CLI11 tree so that every subcommand
// added anywhere shows up without touching the completion code.
struct CompModel
{
  std::vector<CompOption> global;
  std::vector<CompCommand> commands;
};

CompModel completion_model(const CLI::App& app);

std::string bash_script(const CompModel& m);
std::string zsh_script(const CompModel& m);
std::string fish_script(const CompModel& m);

} // namespace ptool::cli
