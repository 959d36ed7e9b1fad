// SPDX-License-Identifier: BSD-2-Clause
#include "format/yaml_resolver.hpp"

#include <array>

namespace ptool::format {

namespace {

// A cursor over the scalar; every scanner below is deterministic (PyYAML's patterns never
// need backtracking once the character classes at each boundary are seen to be disjoint).
struct Scan
{
  std::string_view s;
  size_t i = 0;

  bool end() const { return i == s.size(); }
  char peek() const { return i < s.size() ? s[i] : '\0'; }
  bool eat(char c)
  {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  template<class Pred>
  bool one(Pred p)
  {
    if (i < s.size() && p(s[i])) {
      ++i;
      return true;
    }
    return false;
  }
  template<class Pred>
  size_t many(Pred p)
  {
    size_t start = i;
    while (i < s.size() && p(s[i])) {
      ++i;
    }
    return i - start;
  }
  void sign() { (void)(eat('-') || eat('+')); }
};

bool
digit(char c)
{
  return c >= '0' && c <= '9';
}
bool
digit_(char c)
{
  return digit(c) || c == '_';
}
bool
nonzero(char c)
{
  return c >= '1' && c <= '9';
}
bool
blank(char c)
{
  return c == ' ' || c == '\t';
}

// (?::[0-5]?[0-9])+ — a ':' then one digit, or two digits of which the first is 0-5.
bool
sexagesimal_groups(Scan& p)
{
  size_t groups = 0;
  while (p.peek() == ':') {
    size_t save = p.i;
    ++p.i;
    size_t n = p.many(digit);
    if (n == 1 || (n == 2 && p.s[p.i - 2] <= '5')) {
      ++groups;
      continue;
    }
    p.i = save;
    break;
  }
  return groups > 0;
}

// (?:[eE][-+][0-9]+)? then the end.
bool
exponent_then_end(Scan& p)
{
  if (p.eat('e') || p.eat('E')) {
    if (!(p.eat('-') || p.eat('+'))) {
      return false;
    }
    if (p.many(digit) == 0) {
      return false;
    }
  }
  return p.end();
}

bool
match_bool(std::string_view s)
{
  static constexpr std::array<std::string_view, 18> k_words = {
    "yes",   "Yes",   "YES",   "no", "No", "NO", "true", "True", "TRUE",
    "false", "False", "FALSE", "on", "On", "ON", "off",  "Off",  "OFF"};
  for (std::string_view w : k_words) {
    if (s == w) {
      return true;
    }
  }
  return false;
}

bool
match_float(std::string_view s)
{
  // [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
  {
    Scan p{s};
    p.sign();
    if (p.one(digit)) {
      p.many(digit_);
      if (p.eat('.')) {
        p.many(digit_);
        if (exponent_then_end(p)) {
          return true;
        }
      }
    }
  }
  // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
  {
    Scan p{s};
    if (p.eat('.') && p.one(digit)) {
      p.many(digit_);
      if (exponent_then_end(p)) {
        return true;
      }
    }
  }
  // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
  {
    Scan p{s};
    p.sign();
    if (p.one(digit)) {
      p.many(digit_);
      if (sexagesimal_groups(p) && p.eat('.')) {
        p.many(digit_);
        if (p.end()) {
          return true;
        }
      }
    }
  }
  // [-+]?\.(?:inf|Inf|INF) and \.(?:nan|NaN|NAN)
  std::string_view rest = s;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    rest.remove_prefix(1);
  }
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") {
    return true;
  }
  return s == ".nan" || s == ".NaN" || s == ".NAN";
}

bool
match_int(std::string_view s)
{
  // [-+]?0b[0-1_]+
  {
    Scan p{s};
    p.sign();
    if (p.eat('0') && p.eat('b') && p.many([](char c) { return c == '0' || c == '1' || c == '_'; })
        && p.end()) {
      return true;
    }
  }
  // [-+]?0[0-7_]+
  {
    Scan p{s};
    p.sign();
    if (p.eat('0') && p.many([](char c) { return (c >= '0' && c <= '7') || c == '_'; })
        && p.end()) {
      return true;
    }
  }
  // [-+]?(?:0|[1-9][0-9_]*)
  {
    Scan p{s};
    p.sign();
    if (p.eat('0') ? p.end() : (p.one(nonzero) && (p.many(digit_), p.end()))) {
      return true;
    }
  }
  // [-+]?0x[0-9a-fA-F_]+
  {
    Scan p{s};
    p.sign();
    auto hex_ = [](char c) {
      return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '_';
    };
    if (p.eat('0') && p.eat('x') && p.many(hex_) && p.end()) {
      return true;
    }
  }
  // [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
  {
    Scan p{s};
    p.sign();
    if (p.one(nonzero)) {
      p.many(digit_);
      if (sexagesimal_groups(p) && p.end()) {
        return true;
      }
    }
  }
  return false;
}

bool
match_null(std::string_view s)
{
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool
match_timestamp(std::string_view s)
{
  // [0-9]{4}-[0-9]{2}-[0-9]{2}
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    bool ok = true;
    for (size_t k : {0, 1, 2, 3, 5, 6, 8, 9}) {
      ok = ok && digit(s[k]);
    }
    if (ok) {
      return true;
    }
  }
  // [0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]
  //   (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?
  Scan p{s};
  auto one_or_two = [&p] {
    size_t n = p.many(digit);
    return n == 1 || n == 2;
  };
  if (p.many(digit) != 4 || !p.eat('-') || !one_or_two() || !p.eat('-') || !one_or_two()) {
    return false;
  }
  if (!(p.eat('T') || p.eat('t') || p.many(blank) > 0)) {
    return false;
  }
  if (!one_or_two() || !p.eat(':') || p.many(digit) != 2 || !p.eat(':') || p.many(digit) != 2) {
    return false;
  }
  if (p.eat('.')) {
    p.many(digit);
  }
  if (p.end()) {
    return true;
  }
  p.many(blank);
  if (p.eat('Z')) {
    return p.end();
  }
  if (!(p.eat('-') || p.eat('+')) || !one_or_two()) {
    return false;
  }
  if (p.eat(':') && p.many(digit) != 2) {
    return false;
  }
  return p.end();
}

// Resolver.resolve's loop for one candidate string: the resolvers registered for its first
// character (the empty string has its own entry), in registration order.
YamlTag
resolve_exact(std::string_view s)
{
  if (s.empty()) {
    return match_null(s) ? YamlTag::k_null : YamlTag::k_str;
  }
  std::string_view first(s.data(), 1);
  auto starts = [&first](std::string_view set) {
    return set.find(first[0]) != std::string_view::npos;
  };
  if (starts("yYnNtTfFoO") && match_bool(s)) {
    return YamlTag::k_bool;
  }
  if (starts("-+0123456789.") && match_float(s)) {
    return YamlTag::k_float;
  }
  if (starts("-+0123456789") && match_int(s)) {
    return YamlTag::k_int;
  }
  if (starts("<") && s == "<<") {
    return YamlTag::k_merge;
  }
  if (starts("~nN") && match_null(s)) {
    return YamlTag::k_null;
  }
  if (starts("0123456789") && match_timestamp(s)) {
    return YamlTag::k_timestamp;
  }
  if (starts("=") && s == "=") {
    return YamlTag::k_value;
  }
  if (starts("!&*") && (s == "!" || s == "&" || s == "*")) {
    return YamlTag::k_yaml;
  }
  return YamlTag::k_str;
}

} // namespace

YamlTag
resolve_plain(std::string_view s)
{
  // The first character picks the resolvers; each pattern is `^(?:…)$`, and Python's `$`
  // also matches just before a final "\n". The table is keyed by the whole string's first
  // character, so "\n" alone (first char '\n') never resolves.
  YamlTag t = resolve_exact(s);
  if (t != YamlTag::k_str || s.empty() || s.back() != '\n') {
    return t;
  }
  std::string_view head = s.substr(0, s.size() - 1);
  if (head.empty()) {
    return YamlTag::k_str; // "\n": no resolvers for '\n'
  }
  return resolve_exact(head);
}

bool
is_yaml11_int(std::string_view s)
{
  return !s.empty() && match_int(s);
}

} // namespace ptool::format
