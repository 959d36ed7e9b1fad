// SPDX-License-Identifier: BSD-2-Clause
#include "cli/output.hpp"

#include "cli/completion.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "core/error.hpp"

namespace ptool::cli {

void
add_output_option(CLI::App* sub, OutputFormat& format, DefaultOutput default_output)
{
  bool text = default_output == DefaultOutput::k_text;
  format.name = text ? "text" : "yaml";
  std::vector<std::string> names =
    text ? std::vector<std::string>{"text", "json"} : std::vector<std::string>{"yaml", "json"};
  complete_as(
    sub
      ->add_option("--output", format.name,
                   text ? "output format: text|json (default text; json: see docs/json-output.md)"
                        : "output format: yaml|json (default yaml, as upstream; json: see "
                          "docs/json-output.md)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember(names)),
    ValueKind::k_words, names);
}

YamlNode
key_report(const std::string& action, const std::string& id_hex, bool has_public)
{
  Entries m;
  m.emplace_back(str("action"), str(action));
  m.emplace_back(str("private"), YamlNode::map({{str("CKA_ID"), str(id_hex)}}));
  if (has_public) {
    m.emplace_back(str("public"), YamlNode::map({{str("CKA_ID"), str(id_hex)}}));
  }
  return YamlNode::map(std::move(m));
}

namespace {

// Writes `text` to stdout with write(2), past stdio's buffer (which is never wiped).
void
write_stdout(std::string_view text)
{
  std::cout.flush();
  std::fflush(stdout);
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw Error(ExitCode::k_general, "cannot write to standard output");
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

} // namespace

void
print_document(const YamlNode& doc, const OutputFormat& format, const char* yaml_tail)
{
  if (has_secret(doc)) {
    // Seal auths, keys: built in wiped memory and written straight to the descriptor.
    if (format.json()) {
      format::JsonText out = format::json_text(doc);
      write_stdout(out);
    } else {
      SecureBytes out = format::pyyaml_dump_secret(doc);
      out.insert(out.end(), yaml_tail, yaml_tail + std::strlen(yaml_tail));
      write_stdout(out.view());
    }
    return;
  }
  if (format.json()) {
    std::cout << json_dump(doc);
  } else {
    std::cout << pyyaml_dump(doc) << yaml_tail;
  }
}

} // namespace ptool::cli
