// SPDX-License-Identifier: BSD-2-Clause
#include "cli/pyyaml.hpp"

#include <algorithm>
#include <cstdio>
#include <regex>

namespace ptool::cli {

namespace {

constexpr size_t k_best_width = 80;

// PyYAML's SafeResolver: a plain scalar matching one of these reads back as another type,
// so a string that looks like one must be quoted.
bool
resolves_to_non_string(const std::string& s)
{
  static const std::regex k_bool("yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON"
                                 "|off|Off|OFF");
  static const std::regex k_int("[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                                "|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
  static const std::regex k_float(
    "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
  static const std::regex k_null("~|null|Null|NULL");
  static const std::regex k_timestamp(
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
    "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]"
    ":[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?");
  if (s.empty() || s == "<<" || s == "=") {
    return true;
  }
  return std::regex_match(s, k_bool) || std::regex_match(s, k_int) || std::regex_match(s, k_float)
         || std::regex_match(s, k_null) || std::regex_match(s, k_timestamp);
}

// Decodes UTF-8; a byte that does not start a valid sequence stands for itself.
std::u32string
decode_utf8(const std::string& s)
{
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    char32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc >> 6) == 2;
      cp = cp << 6 | (cc & 0x3f);
    }
    if (!ok) {
      out.push_back(c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

enum class Style { k_plain, k_single, k_double };

bool
is_space_or_break(char32_t c)
{
  return c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0x85 || c == 0x2028
         || c == 0x2029;
}

// PyYAML's Emitter.analyze_scalar + choose_scalar_style for a block-context string with
// allow_unicode=False. Strings with line breaks go double-quoted (PyYAML would fold them
// into a multi-line single-quoted scalar; none of our values contain breaks).
Style
choose_style(const std::string& s, bool simple_key)
{
  if (resolves_to_non_string(s)) {
    return Style::k_single;
  }
  std::u32string t = decode_utf8(s);
  bool block_indicators = false, special = false, leading_space = false, trailing_space = false;
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) {
    block_indicators = true;
  }
  bool preceded_ws = true;
  bool followed_ws = t.size() == 1 || is_space_or_break(t[1]);
  for (size_t i = 0; i < t.size(); ++i) {
    char32_t c = t[i];
    if (i == 0) {
      if (std::u32string_view(U"#,[]{}&*!|>'\"%@`").find(c) != std::u32string_view::npos) {
        block_indicators = true;
      }
      if ((c == '?' || c == ':' || c == '-') && followed_ws) {
        block_indicators = true;
      }
    } else {
      if (c == ':' && followed_ws) {
        block_indicators = true;
      }
      if (c == '#' && preceded_ws) {
        block_indicators = true;
      }
    }
    if (!(c >= 0x20 && c <= 0x7e)) {
      special = true; // breaks, controls and (allow_unicode=False) all non-ASCII
    }
    if (c == ' ' && i == 0) {
      leading_space = true;
    }
    if (c == ' ' && i == t.size() - 1) {
      trailing_space = true;
    }
    preceded_ws = is_space_or_break(c);
    followed_ws = i + 2 >= t.size() || is_space_or_break(t[i + 2]);
  }
  if (special) {
    return Style::k_double;
  }
  if (leading_space || trailing_space || block_indicators) {
    return Style::k_single;
  }
  (void)simple_key;
  return Style::k_plain;
}

// Writes `s` word by word from `column`, replacing a single space by a line break and
// `indent` spaces once the line is past 80 columns, as PyYAML does for non-key scalars.
void
write_folded(std::string& out, const std::string& s, size_t& column, size_t indent, bool split,
             bool quoted)
{
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string::npos) {
      end = s.size();
    }
    std::string word = s.substr(start, end - start);
    if (quoted) {
      std::string q;
      for (char c : word) {
        q += c;
        if (c == '\'') {
          q += '\'';
        }
      }
      word = q;
    }
    out += word;
    column += word.size();
    if (end == s.size()) {
      break;
    }
    size_t spaces_end = s.find_first_not_of(' ', end);
    bool single = spaces_end == end + 1;
    bool inner = !quoted || (spaces_end != std::string::npos);
    if (single && split && column > k_best_width && inner && spaces_end != std::string::npos) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else {
      size_t n = (spaces_end == std::string::npos ? s.size() : spaces_end) - end;
      out += std::string(n, ' ');
      column += n;
    }
    start = spaces_end == std::string::npos ? s.size() : spaces_end;
  }
}

std::string
double_quoted(const std::string& s)
{
  std::string out = "\"";
  for (char32_t c : decode_utf8(s)) {
    const char* esc = nullptr;
    switch (c) {
    case 0:
      esc = "\\0";
      break;
    case 0x07:
      esc = "\\a";
      break;
    case 0x08:
      esc = "\\b";
      break;
    case 0x09:
      esc = "\\t";
      break;
    case 0x0a:
      esc = "\\n";
      break;
    case 0x0b:
      esc = "\\v";
      break;
    case 0x0c:
      esc = "\\f";
      break;
    case 0x0d:
      esc = "\\r";
      break;
    case 0x1b:
      esc = "\\e";
      break;
    case '"':
      esc = "\\\"";
      break;
    case '\\':
      esc = "\\\\";
      break;
    case 0x85:
      esc = "\\N";
      break;
    case 0xa0:
      esc = "\\_";
      break;
    case 0x2028:
      esc = "\\L";
      break;
    case 0x2029:
      esc = "\\P";
      break;
    default:
      break;
    }
    if (esc) {
      out += esc;
    } else if (c >= 0x20 && c <= 0x7e) {
      out += static_cast<char>(c);
    } else {
      char buf[16];
      if (c <= 0xff) {
        std::snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned>(c));
      } else if (c <= 0xffff) {
        std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08X", static_cast<unsigned>(c));
      }
      out += buf;
    }
  }
  return out + "\"";
}

class Dumper
{
public:
  std::string take() { return std::move(m_out); }

  // A scalar at the current position; `indent` is where folded lines continue.
  void scalar(const YamlNode& n, size_t indent, bool simple_key)
  {
    switch (n.kind) {
    case YamlNode::Kind::k_null:
      put("null");
      return;
    case YamlNode::Kind::k_bool:
      put(n.flag ? "true" : "false");
      return;
    case YamlNode::Kind::k_int:
      put(std::to_string(n.num));
      return;
    default:
      break;
    }
    if (n.quoted) {
      put("'");
      for (char c : n.str) {
        put(c == '\'' ? "''" : std::string(1, c));
      }
      put("'");
      return;
    }
    switch (choose_style(n.str, simple_key)) {
    case Style::k_plain:
      write_folded(m_out, n.str, m_column, indent, !simple_key, false);
      return;
    case Style::k_single:
      put("'");
      write_folded(m_out, n.str, m_column, indent, !simple_key, true);
      put("'");
      return;
    case Style::k_double:
      put(double_quoted(n.str));
      return;
    }
  }

  void map(const YamlNode& n, size_t indent, bool inline_first)
  {
    bool first = true;
    for (const auto* e : sorted_entries(n)) {
      if (!(first && inline_first)) {
        put(std::string(indent, ' '));
      }
      first = false;
      scalar(e->first, indent + 2, true);
      put(":");
      value(e->second, indent);
    }
  }

  void seq(const YamlNode& n, size_t indent, bool inline_first)
  {
    bool first = true;
    for (const YamlNode& item : n.items) {
      if (!(first && inline_first)) {
        put(std::string(indent, ' '));
      }
      first = false;
      put("-");
      if (is_collection(item) && !empty(item)) {
        put(" ");
        if (item.kind == YamlNode::Kind::k_map) {
          map(item, indent + 2, true);
        } else {
          seq(item, indent + 2, true);
        }
      } else {
        put(" ");
        leaf(item, indent + 2);
        newline();
      }
    }
  }

  // The value after "key:" of a mapping whose keys are at `indent`.
  void value(const YamlNode& v, size_t indent)
  {
    if (is_collection(v) && !empty(v)) {
      newline();
      if (v.kind == YamlNode::Kind::k_map) {
        map(v, indent + 2, false);
      } else {
        seq(v, indent, false); // PyYAML does not indent a sequence inside a mapping
      }
      return;
    }
    put(" ");
    leaf(v, indent + 2);
    newline();
  }

private:
  static bool is_collection(const YamlNode& n)
  {
    return n.kind == YamlNode::Kind::k_map || n.kind == YamlNode::Kind::k_seq;
  }
  static bool empty(const YamlNode& n) { return n.items.empty() && n.entries.empty(); }
  void leaf(const YamlNode& n, size_t indent)
  {
    if (n.kind == YamlNode::Kind::k_map) {
      put("{}");
    } else if (n.kind == YamlNode::Kind::k_seq) {
      put("[]");
    } else {
      scalar(n, indent, false);
    }
  }
  void put(const std::string& s)
  {
    m_out += s;
    m_column += s.size();
  }
  void newline()
  {
    m_out += "\n";
    m_column = 0;
  }

  std::string m_out;
  size_t m_column = 0;
};

} // namespace

YamlNode
YamlNode::boolean(bool v)
{
  YamlNode n;
  n.kind = Kind::k_bool;
  n.flag = v;
  return n;
}

YamlNode
YamlNode::integer(int64_t v)
{
  YamlNode n;
  n.kind = Kind::k_int;
  n.num = v;
  return n;
}

YamlNode
YamlNode::string(std::string v)
{
  YamlNode n;
  n.kind = Kind::k_str;
  n.str = std::move(v);
  return n;
}

YamlNode
YamlNode::quoted_string(std::string v)
{
  YamlNode n = string(std::move(v));
  n.quoted = true;
  return n;
}

YamlNode
YamlNode::seq(std::vector<YamlNode> v)
{
  YamlNode n;
  n.kind = Kind::k_seq;
  n.items = std::move(v);
  return n;
}

YamlNode
YamlNode::map(std::vector<std::pair<YamlNode, YamlNode>> v)
{
  YamlNode n;
  n.kind = Kind::k_map;
  n.entries = std::move(v);
  return n;
}

std::vector<const std::pair<YamlNode, YamlNode>*>
sorted_entries(const YamlNode& map)
{
  std::vector<const std::pair<YamlNode, YamlNode>*> sorted;
  for (const auto& e : map.entries) {
    sorted.push_back(&e);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
    if (a->first.kind == YamlNode::Kind::k_int && b->first.kind == YamlNode::Kind::k_int) {
      return a->first.num < b->first.num;
    }
    return a->first.str < b->first.str;
  });
  return sorted;
}

std::string
pyyaml_dump(const YamlNode& root)
{
  Dumper d;
  if (root.kind == YamlNode::Kind::k_map && !root.entries.empty()) {
    d.map(root, 0, false);
  } else if (root.kind == YamlNode::Kind::k_seq && !root.items.empty()) {
    d.seq(root, 0, false);
  } else {
    d.value(root, 0); // never used for scalars by our commands; kept total
  }
  return d.take();
}

} // namespace ptool::cli
