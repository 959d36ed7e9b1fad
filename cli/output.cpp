// SPDX-License-Identifier: BSD-2-Clause
#include "cli/output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "core/error.hpp"

namespace ptool::cli {

namespace {

// The JSON text being built: wiped when freed, as a string may be a secret.
using Out = std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0.
size_t
utf8_length(std::string_view s, size_t i)
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
json_string(Out& out, std::string_view s)
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
json_value(Out& out, const YamlNode& n, size_t indent)
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
    json_string(out, n.text());
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
  sub
    ->add_option("--output", format.name,
                 text ? "output format: text|json (default text; json: see docs/json-output.md)"
                      : "output format: yaml|json (default yaml, as upstream; json: see "
                        "docs/json-output.md)")
    ->type_name("FORMAT")
    ->check(CLI::IsMember(text ? std::vector<std::string>{"text", "json"}
                               : std::vector<std::string>{"yaml", "json"}));
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

Out
json_text(const YamlNode& root)
{
  Out out;
  json_value(out, root, 0);
  out += "\n";
  return out;
}

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

std::string
json_dump(const YamlNode& root)
{
  Out out = json_text(root);
  return std::string(out.begin(), out.end());
}

void
print_document(const YamlNode& doc, const OutputFormat& format, const char* yaml_tail)
{
  if (has_secret(doc)) {
    // Seal auths, keys: built in wiped memory and written straight to the descriptor.
    if (format.json()) {
      Out out = json_text(doc);
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
