// SPDX-License-Identifier: BSD-2-Clause
#include "store/attr_scan.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>

#include "core/hex.hpp"

namespace ptool::store {

namespace {

class Scanner
{
public:
  explicit Scanner(std::string_view s) : m_s(s) {}

  bool at_end() const { return m_pos == m_s.size(); }
  char peek() const { return at_end() ? '\0' : m_s[m_pos]; }
  size_t column() const { return m_pos - m_line_start; }

  // Spaces and newlines only: a tab, comment or CR sends the row to the full parser.
  void skip_ws()
  {
    while (!at_end() && (m_s[m_pos] == ' ' || m_s[m_pos] == '\n')) {
      if (m_s[m_pos] == '\n') {
        m_line_start = m_pos + 1;
      }
      ++m_pos;
    }
  }

  void skip_spaces()
  {
    while (!at_end() && m_s[m_pos] == ' ') {
      ++m_pos;
    }
  }

  bool newline()
  {
    if (peek() != '\n') {
      return false;
    }
    m_line_start = ++m_pos;
    return true;
  }

  bool eat(std::string_view word)
  {
    if (m_s.substr(m_pos, word.size()) != word) {
      return false;
    }
    m_pos += word.size();
    return true;
  }

  // `!!tag "text"` with no escapes in text (a backslash means the full parser's job).
  bool tagged(std::string_view& tag, std::string_view& text)
  {
    if (!eat("!!")) {
      return false;
    }
    size_t start = m_pos;
    while (!at_end() && m_s[m_pos] >= 'a' && m_s[m_pos] <= 'z') {
      ++m_pos;
    }
    tag = m_s.substr(start, m_pos - start);
    if (tag == "seq") {
      return true; // the caller reads the list
    }
    if (!eat(" \"")) {
      return false;
    }
    start = m_pos;
    // memchr for the closing quote, then for what may not come before it (find_first_of
    // with a set tests every character against the set: it dominated large stores).
    const char* base = m_s.data() + start;
    const auto* quote = static_cast<const char*>(std::memchr(base, '"', m_s.size() - start));
    if (!quote) {
      return false;
    }
    auto len = static_cast<size_t>(quote - base);
    if (std::memchr(base, '\\', len) || std::memchr(base, '\n', len)) {
      return false;
    }
    size_t end = start + len;
    text = m_s.substr(start, end - start);
    m_pos = end + 1;
    return true;
  }

private:
  std::string_view m_s;
  size_t m_pos = 0;
  size_t m_line_start = 0;
};

// Decimal only: other bases (which upstream's strtoul also reads) go to the full parser.
std::optional<uint64_t>
decimal(std::string_view text)
{
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()
      || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  return v;
}

// `[ !!int "N", … ]` after `!!seq`, possibly spanning lines.
std::optional<std::vector<uint64_t>>
int_list(Scanner& sc)
{
  sc.skip_spaces();
  if (!sc.eat("[")) {
    return std::nullopt;
  }
  std::vector<uint64_t> seq;
  sc.skip_ws();
  while (!sc.eat("]")) {
    std::string_view tag;
    std::string_view text;
    if (!sc.tagged(tag, text) || tag != "int") {
      return std::nullopt;
    }
    auto v = decimal(text);
    if (!v) {
      return std::nullopt;
    }
    seq.push_back(*v);
    sc.skip_ws();
    if (sc.eat(",")) {
      sc.skip_ws();
    } else if (sc.peek() != ']') {
      return std::nullopt;
    }
  }
  return seq;
}

// Even-length hex in either case, as from_hex reads it, without decoding.
bool
is_hex(std::string_view text)
{
  if (text.size() % 2 != 0) {
    return false;
  }
  bool ok = true;
  for (char c : text) {
    auto u = static_cast<unsigned>(static_cast<unsigned char>(c));
    ok &= (u - unsigned{'0'} < 10U) | ((u | 0x20U) - unsigned{'a'} < 6U);
  }
  return ok;
}

// One value. With `keep` false it is only checked exactly as it would be decoded, and
// `out` is left alone: scan_attrs(yaml, only) accepts a row exactly when scan_attrs(yaml)
// does.
bool
value(Scanner& sc, bool keep, AttrValue& out)
{
  std::string_view tag;
  std::string_view text;
  if (!sc.tagged(tag, text)) {
    return false;
  }
  if (tag == "seq") {
    auto seq = int_list(sc);
    if (seq && keep) {
      out = AttrValue::list(std::move(*seq));
    }
    return seq.has_value();
  }
  if (tag == "int") {
    auto v = decimal(text);
    if (v && keep) {
      out = AttrValue::integer(*v);
    }
    return v.has_value();
  }
  if (tag == "bool" && (text == "true" || text == "false")) {
    if (keep) {
      out = AttrValue::boolean(text == "true");
    }
    return true;
  }
  if (tag == "str") {
    if (!keep) {
      return is_hex(text);
    }
    auto bytes = from_hex(text);
    if (bytes) {
      out = AttrValue::data(std::move(*bytes));
    }
    return bytes.has_value();
  }
  return false;
}

std::optional<uint64_t>
key(Scanner& sc)
{
  std::string_view tag;
  std::string_view text;
  if (!sc.tagged(tag, text) || tag != "int") {
    return std::nullopt;
  }
  return decimal(text);
}

// `only`: the keys to decode (nullopt: all of them).
std::optional<AttrMap>
scan(std::string_view yaml, std::optional<std::span<const uint64_t>> only)
{
  Scanner sc(yaml);
  // `---` marks a document only before a blank; `---!!map` is a plain scalar to yaml-cpp.
  if (!sc.eat("---") || (sc.peek() != ' ' && sc.peek() != '\n')) {
    return std::nullopt;
  }
  sc.skip_ws();
  if (!sc.eat("!!map")) {
    return std::nullopt;
  }
  sc.skip_spaces();
  AttrMap attrs;
  size_t entries = 0;
  auto entry = [&](Scanner& s, uint64_t k) {
    bool keep = !only || std::find(only->begin(), only->end(), k) != only->end();
    AttrValue v;
    if (!value(s, keep, v)) {
      return false;
    }
    if (keep) {
      attrs.insert_or_assign(k, std::move(v));
    }
    return true;
  };
  if (sc.eat("{")) {
    // Flow map: `? key` / `: value` pairs separated by commas (a trailing one allowed).
    sc.skip_ws();
    while (!sc.eat("}")) {
      // `?` is an indicator only before a blank: yaml-cpp rejects `?!!int`, so must we.
      bool explicit_key = sc.eat("?");
      if (explicit_key) {
        if (sc.peek() != ' ' && sc.peek() != '\n') {
          return std::nullopt;
        }
        sc.skip_ws();
      }
      auto k = key(sc);
      // Without `?` the key is implicit and its `:` must be on the same line (YAML 1.2 §7.4).
      if (explicit_key) {
        sc.skip_ws();
      } else {
        sc.skip_spaces();
      }
      if (!k || !sc.eat(":") || (sc.peek() != ' ' && sc.peek() != '\n')) {
        return std::nullopt;
      }
      sc.skip_ws();
      if (!entry(sc, *k)) {
        return std::nullopt;
      }
      sc.skip_ws();
      if (sc.eat(",")) {
        sc.skip_ws();
      } else if (sc.peek() != '}') {
        return std::nullopt;
      }
    }
  } else {
    // Block map: one `key: value` line each, keys in column 0.
    if (!sc.newline()) {
      return std::nullopt;
    }
    sc.skip_ws();
    while (!sc.at_end()) {
      if (sc.column() != 0) {
        return std::nullopt;
      }
      auto k = key(sc);
      if (!k || !sc.eat(": ")) {
        return std::nullopt;
      }
      sc.skip_spaces();
      bool ok = entry(sc, *k);
      sc.skip_spaces();
      if (!ok || !sc.newline()) {
        return std::nullopt;
      }
      ++entries;
      sc.skip_ws();
    }
    if (entries == 0) {
      return std::nullopt;
    }
  }
  sc.skip_ws();
  return sc.at_end() ? std::optional(std::move(attrs)) : std::nullopt;
}

} // namespace

std::optional<AttrMap>
scan_attrs(std::string_view yaml)
{
  return scan(yaml, std::nullopt);
}

std::optional<AttrMap>
scan_attrs_only(std::string_view yaml, std::span<const uint64_t> only)
{
  return scan(yaml, only);
}

} // namespace ptool::store
