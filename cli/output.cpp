// SPDX-License-Identifier: BSD-2-Clause
#include "cli/output.hpp"

#include "cli/completion.hpp"

#include <cstdio>
#include <iostream>

namespace ptool::cli {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0.
size_t
utf8_length(const std::string& s, size_t i)
{
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) {
    return cont(1) ? 2 : 0;
  }
  if (c >= 0xe0 && c <= 0xef) {
    bool ok = cont(1) && cont(2) && !(c == 0xe0 && b(1) < 0xa0) && !(c == 0xed && b(1) > 0x9f);
    return ok ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    bool ok =
      cont(1) && cont(2) && cont(3) && !(c == 0xf0 && b(1) < 0x90) && !(c == 0xf4 && b(1) > 0x8f);
    return ok ? 4 : 0;
  }
  return 0;
}

void
json_string(std::string& out, const std::string& s)
{
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_length(s, i);
      // Labels are checked to be UTF-8 on input, but an old store may hold anything.
      out += n ? s.substr(i, n) : "\xef\xbf\xbd";
      i += n ? n : 1;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

void
json_value(std::string& out, const YamlNode& n, size_t indent)
{
  std::string pad(indent + 2, ' ');
  switch (n.kind) {
  case YamlNode::Kind::k_null:
    out += "null";
    return;
  case YamlNode::Kind::k_bool:
    out += n.flag ? "true" : "false";
    return;
  case YamlNode::Kind::k_int:
    out += std::to_string(n.num);
    return;
  case YamlNode::Kind::k_str:
    json_string(out, n.str);
    return;
  case YamlNode::Kind::k_seq:
    if (n.items.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < n.items.size(); ++i) {
      out += pad;
      json_value(out, n.items[i], indent + 2);
      out += i + 1 < n.items.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "]";
    return;
  case YamlNode::Kind::k_map:
    break;
  }
  if (n.entries.empty()) {
    out += "{}";
    return;
  }
  out += "{\n";
  auto sorted = sorted_entries(n);
  for (size_t i = 0; i < sorted.size(); ++i) {
    const YamlNode& key = sorted[i]->first;
    out += pad;
    // JSON keys are strings; objmod's attribute numbers become "256".
    json_string(out, key.kind == YamlNode::Kind::k_int ? std::to_string(key.num) : key.str);
    out += ": ";
    json_value(out, sorted[i]->second, indent + 2);
    out += i + 1 < sorted.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + "}";
}

} // namespace

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

std::string
json_dump(const YamlNode& root)
{
  std::string out;
  json_value(out, root, 0);
  return out + "\n";
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
