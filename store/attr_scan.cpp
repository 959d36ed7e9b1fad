// SPDX-License-Identifier: BSD-2-Clause
#include "store/attr_scan.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/hex.hpp"

namespace ptool::store {

namespace {

constexpr auto k_hex = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[static_cast<size_t>(c)] =
      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  return t;
}();

class Scanner
{
public:
  explicit Scanner(std::string_view s) : m_s(s) {}

  bool at_end() const { return m_pos == m_s.size(); }
  size_t pos() const { return m_pos; }
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

  // The digits of a `"N"` after its opening quote, and the closing quote: decimal only
  // (other bases, which upstream's strtoul also reads, go to the full parser), no leading
  // zero, no overflow.
  bool decimal(uint64_t& out)
  {
    size_t start = m_pos;
    uint64_t v = 0;
    while (!at_end() && m_s[m_pos] >= '0' && m_s[m_pos] <= '9') {
      auto d = static_cast<uint64_t>(m_s[m_pos] - '0');
      if (v > (UINT64_MAX - d) / 10) {
        return false;
      }
      v = v * 10 + d;
      ++m_pos;
    }
    size_t len = m_pos - start;
    if (len == 0 || (len > 1 && m_s[start] == '0') || !eat("\"")) {
      return false;
    }
    out = v;
    return true;
  }

  // Even-length hex in either case (as from_hex reads it) up to the closing quote, which is
  // consumed; `text` is the hex. Eight characters a step: the blobs make up most of a row.
  bool hex(std::string_view& text)
  {
    const auto* p = reinterpret_cast<const unsigned char*>(m_s.data()) + m_pos;
    const auto* end = reinterpret_cast<const unsigned char*>(m_s.data()) + m_s.size();
    const auto* start = p;
    while (end - p >= 8
           && (k_hex[p[0]] & k_hex[p[1]] & k_hex[p[2]] & k_hex[p[3]] & k_hex[p[4]] & k_hex[p[5]]
               & k_hex[p[6]] & k_hex[p[7]])) {
      p += 8;
    }
    while (p != end && k_hex[*p]) {
      ++p;
    }
    auto len = static_cast<size_t>(p - start);
    if (p == end || *p != '"' || len % 2 != 0) {
      return false;
    }
    text = m_s.substr(m_pos, len);
    m_pos += len + 1;
    return true;
  }

  // `!!seq` as a whole tag (yaml-cpp reads `!!seqx` as another tag).
  bool seq_tag()
  {
    if (!eat("!!seq")) {
      return false;
    }
    return peek() < 'a' || peek() > 'z';
  }

private:
  std::string_view m_s;
  size_t m_pos = 0;
  size_t m_line_start = 0;
};

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
    uint64_t v = 0;
    if (!sc.eat("!!int \"") || !sc.decimal(v)) {
      return std::nullopt;
    }
    seq.push_back(v);
    sc.skip_ws();
    if (sc.eat(",")) {
      sc.skip_ws();
    } else if (sc.peek() != ']') {
      return std::nullopt;
    }
  }
  return seq;
}

// One value: `!!int "N"`, `!!bool "true"|"false"`, `!!str "HEX"` or `!!seq [ … ]`, without
// escapes. Decoded into `out` unless it is null (then only checked exactly as it would be
// decoded, so scan_attr_spans accepts a row exactly when scan_attrs does); `where`, unless
// null, says where it lies.
static_assert(static_cast<int>(AttrValue::Kind::k_seq) < 4); // ValueSpan::kind_bits

bool
value(Scanner& sc, AttrValue* out, ValueSpan* where)
{
  auto at = [&](AttrValue::Kind kind, size_t start, size_t end) {
    if (where) {
      where->offset = static_cast<uint32_t>(start);
      where->length = static_cast<uint32_t>(end - start) & ValueSpan::k_max_length;
      where->kind_bits = static_cast<uint32_t>(kind) & 3U;
      where->inline_value = 0;
      where->found = 1;
    }
    return true;
  };
  auto held = [&](AttrValue::Kind kind, uint32_t v) {
    if (where) {
      *where = {};
      where->offset = v;
      where->kind_bits = static_cast<uint32_t>(kind) & 3U;
      where->inline_value = 1;
      where->found = 1;
    }
    return true;
  };
  // Between the quotes.
  auto scalar = [&](AttrValue::Kind kind, size_t start) { return at(kind, start, sc.pos() - 1); };
  if (sc.eat("!!str \"")) {
    size_t start = sc.pos();
    std::string_view text;
    if (!sc.hex(text)) {
      return false;
    }
    if (out) {
      auto bytes = from_hex(text);
      if (!bytes) {
        return false;
      }
      *out = AttrValue::data(std::move(*bytes));
    }
    return scalar(AttrValue::Kind::k_bytes, start);
  }
  if (sc.eat("!!int \"")) {
    size_t start = sc.pos();
    uint64_t v = 0;
    if (!sc.decimal(v)) {
      return false;
    }
    if (out) {
      *out = AttrValue::integer(v);
    }
    if (v <= UINT32_MAX) {
      return held(AttrValue::Kind::k_int, static_cast<uint32_t>(v));
    }
    return scalar(AttrValue::Kind::k_int, start);
  }
  if (sc.eat("!!bool \"")) {
    bool flag = sc.eat("true\"");
    if (!flag && !sc.eat("false\"")) {
      return false;
    }
    if (out) {
      *out = AttrValue::boolean(flag);
    }
    return held(AttrValue::Kind::k_bool, flag ? 1 : 0);
  }
  if (sc.seq_tag()) {
    size_t start = sc.pos();
    auto seq = int_list(sc);
    if (!seq) {
      return false;
    }
    if (out) {
      *out = AttrValue::list(std::move(*seq));
    }
    // From after the tag to the closing `]`.
    return at(AttrValue::Kind::k_seq, start, sc.pos());
  }
  return false;
}

std::optional<uint64_t>
key(Scanner& sc)
{
  uint64_t k = 0;
  if (!sc.eat("!!int \"") || !sc.decimal(k)) {
    return std::nullopt;
  }
  return k;
}

// The whole row checked, `entry(scanner, key)` reading each value.
template<typename Entry>
bool
scan(std::string_view yaml, Entry&& entry)
{
  Scanner sc(yaml);
  // `---` marks a document only before a blank; `---!!map` is a plain scalar to yaml-cpp.
  if (!sc.eat("---") || (sc.peek() != ' ' && sc.peek() != '\n')) {
    return false;
  }
  sc.skip_ws();
  if (!sc.eat("!!map")) {
    return false;
  }
  sc.skip_spaces();
  size_t entries = 0;
  if (sc.eat("{")) {
    // Flow map: `? key` / `: value` pairs separated by commas (a trailing one allowed).
    sc.skip_ws();
    while (!sc.eat("}")) {
      // `?` is an indicator only before a blank: yaml-cpp rejects `?!!int`, so must we.
      bool explicit_key = sc.eat("?");
      if (explicit_key) {
        if (sc.peek() != ' ' && sc.peek() != '\n') {
          return false;
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
        return false;
      }
      sc.skip_ws();
      if (!entry(sc, *k)) {
        return false;
      }
      sc.skip_ws();
      if (sc.eat(",")) {
        sc.skip_ws();
      } else if (sc.peek() != '}') {
        return false;
      }
    }
  } else {
    // Block map: one `key: value` line each, keys in column 0.
    if (!sc.newline()) {
      return false;
    }
    sc.skip_ws();
    while (!sc.at_end()) {
      if (sc.column() != 0) {
        return false;
      }
      auto k = key(sc);
      if (!k || !sc.eat(": ")) {
        return false;
      }
      sc.skip_spaces();
      bool ok = entry(sc, *k);
      sc.skip_spaces();
      if (!ok || !sc.newline()) {
        return false;
      }
      ++entries;
      sc.skip_ws();
    }
    if (entries == 0) {
      return false;
    }
  }
  sc.skip_ws();
  return sc.at_end();
}

} // namespace

std::optional<AttrMap>
scan_attrs(std::string_view yaml)
{
  AttrMap attrs;
  bool ok = scan(yaml, [&](Scanner& sc, uint64_t k) {
    AttrValue v;
    if (!value(sc, &v, nullptr)) {
      return false;
    }
    attrs.insert_or_assign(k, std::move(v));
    return true;
  });
  return ok ? std::optional(std::move(attrs)) : std::nullopt;
}

bool
scan_attr_spans(std::string_view yaml, std::span<const uint64_t> only, std::span<ValueSpan> spans)
{
  if (yaml.size() > ValueSpan::k_max_length || spans.size() < only.size()) {
    return false;
  }
  std::fill(spans.begin(), spans.end(), ValueSpan{});
  // Rows hold their keys in ascending order: with `only` sorted too, a cursor finds each
  // key without searching all of `only` (and restarts when a row is out of order).
  bool sorted = std::is_sorted(only.begin(), only.end());
  size_t cursor = 0;
  uint64_t last = 0;
  auto position = [&](uint64_t k) -> size_t {
    if (!sorted) {
      return static_cast<size_t>(std::find(only.begin(), only.end(), k) - only.begin());
    }
    if (k < last) {
      cursor = 0;
    }
    last = k;
    while (cursor < only.size() && only[cursor] < k) {
      ++cursor;
    }
    return cursor < only.size() && only[cursor] == k ? cursor : only.size();
  };
  return scan(yaml, [&](Scanner& sc, uint64_t k) {
    size_t i = position(k);
    // A repeated key: the last one wins, as in scan_attrs's map.
    return value(sc, nullptr, i < only.size() ? &spans[i] : nullptr);
  });
}

AttrValue
decode_span(std::string_view yaml, const ValueSpan& span)
{
  if (span.inline_value) {
    return span.kind() == AttrValue::Kind::k_bool ? AttrValue::boolean(span.offset != 0)
                                                  : AttrValue::integer(span.offset);
  }
  std::string_view text = yaml.substr(span.offset, span.length);
  Scanner sc(text);
  uint64_t v = 0;
  switch (span.kind()) {
  case AttrValue::Kind::k_int:
    for (char c : text) {
      v = v * 10 + static_cast<uint64_t>(c - '0'); // checked by scan_attr_spans
    }
    return AttrValue::integer(v);
  case AttrValue::Kind::k_bool:
    return AttrValue::boolean(text == "true");
  case AttrValue::Kind::k_seq:
    return AttrValue::list(int_list(sc).value_or(std::vector<uint64_t>{}));
  case AttrValue::Kind::k_bytes:
    break;
  }
  return AttrValue::data(from_hex(text).value_or(Bytes{}));
}

std::optional<AttrList>
scan_attrs_only(std::string_view yaml, std::span<const uint64_t> only)
{
  std::vector<ValueSpan> spans(only.size());
  if (!scan_attr_spans(yaml, only, spans)) {
    return std::nullopt;
  }
  AttrList attrs;
  for (size_t i = 0; i < only.size(); ++i) {
    if (spans[i].found) {
      attrs.emplace_back(only[i], decode_span(yaml, spans[i]));
    }
  }
  return attrs;
}

} // namespace ptool::store
