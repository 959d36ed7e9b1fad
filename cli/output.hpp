// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/pyyaml.hpp"
#include "format/json.hpp"

// `--output yaml|json`: a command builds its result once as a YamlNode tree and
// prints it in the chosen format. YAML is the upstream-compatible default, byte for byte;
// JSON is documented in docs/json-output.md with a schema per command in docs/schemas/.
namespace ptool::cli {

struct OutputFormat
{
  std::string name = "yaml";
  bool json() const { return name == "json"; }
};

enum class DefaultOutput { k_yaml, k_text };
// Adds `--output yaml|json` to `sub`, or `--output text|json` for commands whose normal
// output is not YAML (ssh-pubkey, ssh-config, doctor).
void add_output_option(CLI::App* sub, OutputFormat& format,
                       DefaultOutput default_output = DefaultOutput::k_yaml);

// format/json.hpp
using format::json_dump;

// Prints `doc`: YAML as pyyaml_dump(doc) + `yaml_tail` (upstream's print() adds "\n"), JSON
// as json_dump(doc).
void print_document(const YamlNode& doc, const OutputFormat& format, const char* yaml_tail = "\n");

// What addkey, import and link print for one key: {action, private: {CKA_ID}, public:
// {CKA_ID}}; upstream's ids are hex of hex text (all digits), so PyYAML quotes them.
YamlNode key_report(const std::string& action, const std::string& id_hex, bool has_public);

// Convenience for building maps with string keys.
using Entries = std::vector<YamlEntry>;
inline YamlNode
str(std::string s)
{
  return YamlNode::string(std::move(s));
}

} // namespace ptool::cli
