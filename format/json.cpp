// SPDX-License-Identifier: BSD-2-Clause
#include "format/json.hpp"

#include <cstdio>

#include "format/utf8.hpp"

namespace ptool::format {

namespace {

void
json_string(JsonText& out, std::string_view s)
{
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      Utf8Char u = decode_utf8_at(s, i);
      // Labels are checked to be UTF-8 on input, but an old store may hold anything.
      out += u.length ? s.substr(i, u.length) : "\xef\xbf\xbd";
      i += u.length ? u.length : 1;
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
json_value(JsonText& out, const YamlNode& n, size_t indent)
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

JsonText
json_text(const YamlNode& root)
{
  JsonText out;
  json_value(out, root, 0);
  out += "\n";
  return out;
}

std::string
json_dump(const YamlNode& root)
{
  JsonText out = json_text(root);
  return std::string(out.begin(), out.end());
}

} // namespace ptool::format
