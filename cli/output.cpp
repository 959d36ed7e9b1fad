// SPDX-License-Identifier: BSD-2-Clause
#include "cli/output.hpp"

#include "cli/completion.hpp"

#include <iostream>

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

void
print_document(const YamlNode& doc, const OutputFormat& format, const char* yaml_tail)
{
  if (format.json()) {
    std::cout << json_dump(doc);
  } else {
    std::cout << pyyaml_dump(doc) << yaml_tail;
  }
}

} // namespace ptool::cli
