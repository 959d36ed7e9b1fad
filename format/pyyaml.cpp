// SPDX-License-Identifier: BSD-2-Clause
#include "format/pyyaml.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>

#include "format/utf8.hpp"
#include "format/yaml_resolver.hpp"

namespace ptool::format {

namespace {

// The emitter's buffers: wiped when freed, since a scalar may be a secret.
using Text = std::basic_string<char32_t, std::char_traits<char32_t>, CleansingAllocator<char32_t>>;
using Out = std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;

constexpr size_t k_best_width = 80;
constexpr size_t k_best_indent = 2;

bool
in(char32_t c, std::u32string_view set)
{
  return set.find(c) != std::u32string_view::npos;
}

// (sized explicitly: the literal starts with a NUL)
constexpr std::u32string_view k_ws_or_nul{U"\0 \t\r\n\x85\u2028\u2029", 8};
constexpr std::u32string_view k_breaks = U"\n\x85\u2028\u2029";

// Emitter.analyze_scalar (allow_unicode=False): what styles a scalar may take.
struct Analysis
{
  bool empty = false;
  bool multiline = false;
  bool allow_block_plain = true;
  bool allow_single_quoted = true;
};

Analysis
analyze(const Text& t)
{
  Analysis a;
  if (t.empty()) {
    a.empty = true;
    return a;
  }
  bool block_indicators = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  std::u32string_view v(t);
  if (v.substr(0, 3) == U"---" || v.substr(0, 3) == U"...") {
    block_indicators = true;
  }
  bool preceded_ws = true;
  bool followed_ws = t.size() == 1 || in(t[1], k_ws_or_nul);
  bool previous_space = false, previous_break = false;
  for (size_t i = 0; i < t.size(); ++i) {
    char32_t ch = t[i];
    if (i == 0) {
      if (in(ch, U"#,[]{}&*!|>'\"%@`")) {
        block_indicators = true;
      }
      if ((ch == '?' || ch == ':') && followed_ws) {
        block_indicators = true;
      }
      if (ch == '-' && followed_ws) {
        block_indicators = true;
      }
    } else {
      if (ch == ':' && followed_ws) {
        block_indicators = true;
      }
      if (ch == '#' && preceded_ws) {
        block_indicators = true;
      }
    }
    if (in(ch, k_breaks)) {
      line_breaks = true;
    }
    if (!(ch == '\n' || (ch >= 0x20 && ch <= 0x7e))) {
      special = true; // with allow_unicode=False every other character is special
    }
    if (ch == ' ') {
      leading_space = leading_space || i == 0;
      trailing_space = trailing_space || i == t.size() - 1;
      break_space = break_space || previous_break;
      previous_space = true;
      previous_break = false;
    } else if (in(ch, k_breaks)) {
      leading_break = leading_break || i == 0;
      trailing_break = trailing_break || i == t.size() - 1;
      space_break = space_break || previous_space;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_ws = in(ch, k_ws_or_nul);
    followed_ws = i + 2 >= t.size() || in(t[i + 2], k_ws_or_nul);
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.allow_block_plain = false;
  }
  if (break_space) {
    a.allow_block_plain = a.allow_single_quoted = false;
  }
  if (space_break || special) {
    a.allow_block_plain = a.allow_single_quoted = false;
  }
  if (line_breaks || block_indicators) {
    a.allow_block_plain = false;
  }
  return a;
}

// What the serializer and representer hand the emitter for one scalar node.
struct Scalar
{
  Text text;
  bool implicit_plain = true; // event.implicit[0]: the resolver reads the plain text back as
                              // the node's own tag
  size_t tag_length = 5;      // len(prepare_tag(tag)): "!!str", "!!int", "!!bool", "!!null"
};

Scalar
to_scalar(const YamlNode& n)
{
  Scalar s;
  switch (n.kind) {
  case YamlNode::Kind::k_null:
    s.text = U"null";
    s.tag_length = 6;
    break;
  case YamlNode::Kind::k_bool:
    s.text = n.flag ? U"true" : U"false";
    s.tag_length = 6;
    break;
  case YamlNode::Kind::k_int: {
    std::string d = std::to_string(n.num);
    s.text.assign(d.begin(), d.end());
    break;
  }
  default:
    s.text = decode_utf8_lossless<Text>(n.text());
    s.implicit_plain = resolve_plain(n.text()) == YamlTag::k_str;
    break;
  }
  return s;
}

// The state of PyYAML's Emitter that block output touches, and its writers, ported
// line for line (names follow emitter.py).
class Emitter
{
public:
  Out take() { return std::move(m_out); }

  void document(const YamlNode& root)
  {
    node(root, /*root=*/true, false, false, false);
    // expect_document_end, then the stream end's "..." for an open-ended plain root
    write_indent();
    if (m_open_ended) {
      write_indicator(U"...", true);
      write_indent();
    }
  }

private:
  static bool is_collection(const YamlNode& n)
  {
    return n.kind == YamlNode::Kind::k_map || n.kind == YamlNode::Kind::k_seq;
  }
  static bool is_empty_collection(const YamlNode& n)
  {
    return (n.kind == YamlNode::Kind::k_map && n.entries.empty())
           || (n.kind == YamlNode::Kind::k_seq && n.items.empty());
  }

  void node(const YamlNode& n, bool root, bool sequence, bool mapping, bool simple_key)
  {
    m_root_context = root;
    (void)sequence;
    m_mapping_context = mapping;
    m_simple_key_context = simple_key;
    if (!is_collection(n)) {
      increase_indent(true);
      process_scalar(to_scalar(n));
      pop_indent();
      return;
    }
    if (is_empty_collection(n)) {
      // expect_flow_sequence / expect_flow_mapping with no items
      bool is_map = n.kind == YamlNode::Kind::k_map;
      write_indicator(is_map ? U"{" : U"[", true, true);
      ++m_flow_level;
      increase_indent(true);
      pop_indent();
      --m_flow_level;
      write_indicator(is_map ? U"}" : U"]", false);
      return;
    }
    if (n.kind == YamlNode::Kind::k_seq) {
      bool indentless = m_mapping_context && !m_indention;
      increase_indent(false, indentless);
      for (const YamlNode& item : n.items) {
        write_indent();
        write_indicator(U"-", true, false, true);
        node(item, false, true, false, false);
      }
      pop_indent();
      return;
    }
    increase_indent(false);
    for (const auto* e : sorted_entries(n)) {
      write_indent();
      if (check_simple_key(e->first)) {
        node(e->first, false, false, true, true);
        write_indicator(U":", false);
      } else {
        write_indicator(U"?", true, false, true);
        node(e->first, false, false, true, false);
        write_indent();
        write_indicator(U":", true, false, true);
      }
      node(e->second, false, false, true, false);
    }
    pop_indent();
  }

  bool check_simple_key(const YamlNode& key) const
  {
    if (is_collection(key)) {
      return is_empty_collection(key) && 5 < 128; // "!!map" / "!!seq"
    }
    Scalar s = to_scalar(key);
    Analysis a = analyze(s.text);
    return s.text.size() + s.tag_length < 128 && !a.empty && !a.multiline;
  }

  void increase_indent(bool flow, bool indentless = false)
  {
    m_indents.push_back(m_indent);
    if (!m_indent) {
      m_indent = flow ? k_best_indent : 0;
    } else if (!indentless) {
      *m_indent += k_best_indent;
    }
  }
  void pop_indent()
  {
    m_indent = m_indents.back();
    m_indents.pop_back();
  }

  // choose_scalar_style for a scalar without a requested style.
  char choose_style(const Scalar& s, const Analysis& a) const
  {
    if (s.implicit_plain && !(m_simple_key_context && (a.empty || a.multiline))
        && (m_flow_level ? false : a.allow_block_plain)) {
      return '\0';
    }
    if (a.allow_single_quoted && !(m_simple_key_context && a.multiline)) {
      return '\'';
    }
    return '"';
  }

  void process_scalar(const Scalar& s)
  {
    Analysis a = analyze(s.text);
    char style = choose_style(s, a);
    bool split = !m_simple_key_context;
    if (style == '"') {
      write_double_quoted(s.text, split);
    } else if (style == '\'') {
      write_single_quoted(s.text, split);
    } else {
      write_plain(s.text, split);
    }
  }

  void write(std::u32string_view data)
  {
    for (char32_t c : data) {
      append_utf8(m_out, c);
    }
    m_column += data.size();
  }

  void write_indicator(std::u32string_view indicator, bool need_whitespace, bool whitespace = false,
                       bool indention = false)
  {
    if (!(m_whitespace || !need_whitespace)) {
      write(U" ");
    }
    write(indicator);
    m_whitespace = whitespace;
    m_indention = m_indention && indention;
    m_open_ended = false;
  }

  void write_indent()
  {
    size_t indent = m_indent.value_or(0);
    if (!m_indention || m_column > indent || (m_column == indent && !m_whitespace)) {
      write_line_break();
    }
    if (m_column < indent) {
      m_whitespace = true;
      m_out.append(indent - m_column, ' ');
      m_column = indent;
    }
  }

  void write_line_break(std::optional<char32_t> br = std::nullopt)
  {
    append_utf8(m_out, br.value_or('\n'));
    m_whitespace = true;
    m_indention = true;
    m_column = 0;
  }

  void write_breaks(std::u32string_view text)
  {
    if (text[0] == '\n') {
      write_line_break();
    }
    for (char32_t br : text) {
      write_line_break(br);
    }
    write_indent();
  }

  void write_plain(std::u32string_view text, bool split)
  {
    if (m_root_context) {
      m_open_ended = true;
    }
    if (text.empty()) {
      return;
    }
    if (!m_whitespace) {
      write(U" ");
    }
    m_whitespace = false;
    m_indention = false;
    bool spaces = false, breaks = false;
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      std::optional<char32_t> ch;
      if (end < text.size()) {
        ch = text[end];
      }
      if (spaces) {
        if (ch != U' ') {
          if (start + 1 == end && m_column > k_best_width && split) {
            write_indent();
            m_whitespace = false;
            m_indention = false;
          } else {
            write(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (!ch || !in(*ch, k_breaks)) {
          write_breaks(text.substr(start, end - start));
          m_whitespace = false;
          m_indention = false;
          start = end;
        }
      } else if (!ch || in(*ch, U" \n\x85\u2028\u2029")) {
        write(text.substr(start, end - start));
        start = end;
      }
      if (ch) {
        spaces = *ch == ' ';
        breaks = in(*ch, k_breaks);
      }
    }
  }

  void write_single_quoted(std::u32string_view text, bool split)
  {
    write_indicator(U"'", true);
    bool spaces = false, breaks = false;
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      std::optional<char32_t> ch;
      if (end < text.size()) {
        ch = text[end];
      }
      if (spaces) {
        if (!ch || *ch != ' ') {
          if (start + 1 == end && m_column > k_best_width && split && start != 0
              && end != text.size()) {
            write_indent();
          } else {
            write(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (!ch || !in(*ch, k_breaks)) {
          write_breaks(text.substr(start, end - start));
          start = end;
        }
      } else if (!ch || in(*ch, U" \n\x85\u2028\u2029") || *ch == '\'') {
        if (start < end) {
          write(text.substr(start, end - start));
          start = end;
        }
      }
      if (ch == U'\'') {
        write(U"''");
        start = end + 1;
      }
      if (ch) {
        spaces = *ch == ' ';
        breaks = in(*ch, k_breaks);
      }
    }
    write_indicator(U"'", false);
  }

  static const char* escape_for(char32_t c)
  {
    switch (c) {
    case 0:
      return "0";
    case 0x07:
      return "a";
    case 0x08:
      return "b";
    case 0x09:
      return "t";
    case 0x0a:
      return "n";
    case 0x0b:
      return "v";
    case 0x0c:
      return "f";
    case 0x0d:
      return "r";
    case 0x1b:
      return "e";
    case '"':
      return "\"";
    case '\\':
      return "\\";
    case 0x85:
      return "N";
    case 0xa0:
      return "_";
    case 0x2028:
      return "L";
    case 0x2029:
      return "P";
    default:
      return nullptr;
    }
  }

  void write_ascii(std::string_view s)
  {
    m_out += s;
    m_column += s.size();
  }

  void write_double_quoted(std::u32string_view text, bool split)
  {
    write_indicator(U"\"", true);
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      std::optional<char32_t> ch;
      if (end < text.size()) {
        ch = text[end];
      }
      if (!ch || in(*ch, U"\"\\\x85\u2028\u2029\uFEFF") || !(*ch >= 0x20 && *ch <= 0x7e)) {
        if (start < end) {
          write(text.substr(start, end - start));
          start = end;
        }
        if (ch) {
          std::string data = "\\";
          if (const char* e = escape_for(*ch)) {
            data += e;
          } else {
            char buf[16];
            unsigned v = static_cast<unsigned>(*ch);
            if (v <= 0xff) {
              std::snprintf(buf, sizeof(buf), "x%02X", v);
            } else if (v <= 0xffff) {
              std::snprintf(buf, sizeof(buf), "u%04X", v);
            } else {
              std::snprintf(buf, sizeof(buf), "U%08X", v);
            }
            data += buf;
          }
          write_ascii(data);
          start = end + 1;
        }
      }
      if (0 < end && end + 1 < text.size() && (ch == U' ' || start >= end)
          && m_column + (end - start) > k_best_width && split) {
        // end - start is 0 when start > end (Python's text[start:end] is then empty)
        size_t n = start < end ? end - start : 0;
        write(text.substr(start, n));
        write_ascii("\\");
        if (start < end) {
          start = end;
        }
        write_indent();
        m_whitespace = false;
        m_indention = false;
        if (text[start] == ' ') {
          write_ascii("\\");
        }
      }
    }
    write_indicator(U"\"", false);
  }

  Out m_out;
  size_t m_column = 0;
  bool m_whitespace = true; // a stream starts as if after whitespace and an indent
  bool m_indention = true;
  bool m_open_ended = false;
  bool m_root_context = false;
  bool m_mapping_context = false;
  bool m_simple_key_context = false;
  int m_flow_level = 0;
  std::optional<size_t> m_indent;
  std::vector<std::optional<size_t>> m_indents;
};

} // namespace

YamlNode
YamlNode::null()
{
  return {};
}

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
YamlNode::secret_string(SecureBytes v)
{
  YamlNode n;
  n.kind = Kind::k_str;
  n.secret = true;
  n.secret_text = std::move(v);
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
YamlNode::map(std::vector<YamlEntry> v)
{
  YamlNode n;
  n.kind = Kind::k_map;
  n.entries = std::move(v);
  return n;
}

std::vector<const YamlEntry*>
sorted_entries(const YamlNode& map)
{
  std::vector<const YamlEntry*> sorted;
  for (const auto& e : map.entries) {
    sorted.push_back(&e);
  }
  // Python 3 orders ints (bools are ints) with ints and str with str; anything else raises
  // TypeError, and PyYAML then keeps the dict's order.
  auto numeric = [](const YamlNode& k) {
    return k.kind == YamlNode::Kind::k_int || k.kind == YamlNode::Kind::k_bool;
  };
  bool all_numeric =
    std::all_of(sorted.begin(), sorted.end(), [&](auto* e) { return numeric(e->first); });
  bool all_str = std::all_of(sorted.begin(), sorted.end(),
                             [](auto* e) { return e->first.kind == YamlNode::Kind::k_str; });
  if (all_numeric) {
    auto value = [](const YamlNode& k) {
      return k.kind == YamlNode::Kind::k_bool ? int64_t{k.flag} : k.num;
    };
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](auto* a, auto* b) { return value(a->first) < value(b->first); });
  } else if (all_str) {
    // UTF-8 byte order is code point order.
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](auto* a, auto* b) { return a->first.str < b->first.str; });
  }
  return sorted;
}

std::string
pyyaml_dump(const YamlNode& root)
{
  Emitter e;
  e.document(root);
  Out out = e.take();
  return std::string(out.begin(), out.end());
}

SecureBytes
pyyaml_dump_secret(const YamlNode& root)
{
  Emitter e;
  e.document(root);
  Out out = e.take();
  return SecureBytes(out.begin(), out.end());
}

bool
has_secret(const YamlNode& node)
{
  return node.secret
         || std::any_of(node.items.begin(), node.items.end(),
                        [](const YamlNode& n) { return has_secret(n); })
         || std::any_of(node.entries.begin(), node.entries.end(), [](const YamlEntry& e) {
              return has_secret(e.first) || has_secret(e.second);
            });
}

} // namespace ptool::format
