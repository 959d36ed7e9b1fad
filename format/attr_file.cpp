// SPDX-License-Identifier: BSD-2-Clause
#include "format/attr_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "core/error.hpp"
#include "format/yaml_resolver.hpp"

namespace ptool::format {

namespace {

bool
is_plain(const YAML::Node& n)
{
  return n.Tag() == "?" || n.Tag().empty();
}

// PyYAML's int resolver, including its '_' separators, 0b/0x/leading-0 octal bases and
// base-60 forms; nullopt when `s` is not an int for PyYAML.
std::optional<uint64_t>
pyyaml_int(std::string s)
{
  if (!format::is_yaml11_int(s)) {
    return std::nullopt;
  }
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s[0] == '-') {
    throw Error(ExitCode::k_usage, "negative value '" + s + "' cannot be a CK_ULONG");
  }
  if (s[0] == '+') {
    s.erase(0, 1);
  }
  try {
    if (s.find(':') != std::string::npos) {
      uint64_t v = 0;
      size_t start = 0;
      for (;;) {
        size_t end = s.find(':', start);
        uint64_t part = std::stoull(s.substr(start, end - start));
        if (v > (UINT64_MAX - part) / 60) {
          throw std::out_of_range("base 60");
        }
        v = v * 60 + part;
        if (end == std::string::npos) {
          return v;
        }
        start = end + 1;
      }
    }
    if (s.rfind("0b", 0) == 0) {
      return std::stoull(s.substr(2), nullptr, 2);
    }
    if (s.rfind("0x", 0) == 0) {
      return std::stoull(s.substr(2), nullptr, 16);
    }
    if (s.size() > 1 && s[0] == '0') {
      return std::stoull(s.substr(1), nullptr, 8);
    }
    return std::stoull(s, nullptr, 10);
  } catch (const std::out_of_range&) {
    throw Error(ExitCode::k_usage, "value '" + s + "' does not fit a CK_ULONG");
  } catch (const std::invalid_argument&) {
    // "0b_" or "0x_": PyYAML's int() raises on the empty digits; not a number for us either
    throw Error(ExitCode::k_usage, "value '" + s + "' is not a number");
  }
}

std::optional<bool>
pyyaml_bool(const std::string& s)
{
  for (const char* t : {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}) {
    if (s == t) {
      return true;
    }
  }
  for (const char* f : {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}) {
    if (s == f) {
      return false;
    }
  }
  return std::nullopt;
}

std::string
tag_name(const YAML::Node& n)
{
  const std::string& t = n.Tag();
  const std::string prefix = "tag:yaml.org,2002:";
  return t.rfind(prefix, 0) == 0 ? t.substr(prefix.size()) : t;
}

[[noreturn]] void
bad(const std::string& key, const std::string& what)
{
  throw Error(ExitCode::k_usage, "attribute " + key + ": " + what,
              "values must be integers, true/false, hex strings or lists of integers");
}

AttrValue
scalar_value(const YAML::Node& v, const std::string& key)
{
  const std::string& s = v.Scalar();
  std::string tag = tag_name(v);
  if (is_plain(v) || tag == "int") {
    if (auto i = pyyaml_int(s)) {
      return AttrValue::integer(*i);
    }
    if (tag == "int") {
      bad(key, "'" + s + "' is not an integer");
    }
  }
  if (is_plain(v) || tag == "bool") {
    if (auto b = pyyaml_bool(s)) {
      return AttrValue::boolean(*b);
    }
    if (tag == "bool") {
      bad(key, "'" + s + "' is not a boolean");
    }
  }
  if (is_plain(v) && (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")) {
    bad(key, "null is not a valid attribute value");
  }
  if (!(is_plain(v) || tag == "!" || tag == "str")) {
    bad(key, "unsupported tag '" + v.Tag() + "'");
  }
  auto bytes = from_hex(s);
  if (!bytes) {
    bad(key, "'" + s + "' is not an even-length hex string");
  }
  return AttrValue::data(std::move(*bytes));
}

} // namespace

AttrMap
parse_plain_attrs(std::string_view yaml)
{
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(ExitCode::k_usage, std::string("malformed YAML: ") + e.msg);
  }
  if (!root.IsMap()) {
    throw Error(ExitCode::k_usage, "the attribute file is not a YAML map");
  }
  AttrMap attrs;
  for (const auto& kv : root) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    auto type = kv.first.IsScalar() && (is_plain(kv.first) || tag_name(kv.first) == "int")
                  ? pyyaml_int(key)
                  : std::nullopt;
    if (!type) {
      bad(key, "keys must be attribute numbers (integers)");
    }
    const YAML::Node& v = kv.second;
    if (v.IsSequence()) {
      std::vector<uint64_t> seq;
      for (const auto& item : v) {
        auto i = item.IsScalar() && (is_plain(item) || tag_name(item) == "int")
                   ? pyyaml_int(item.Scalar())
                   : std::nullopt;
        if (!i) {
          bad(key, "list items must be integers");
        }
        seq.push_back(*i);
      }
      attrs[*type] = AttrValue::list(std::move(seq));
    } else if (v.IsScalar()) {
      attrs[*type] = scalar_value(v, key);
    } else {
      bad(key, "nested maps and nulls are not attribute values");
    }
  }
  return attrs;
}

std::map<uint64_t, std::string>
attr_string_texts(std::string_view yaml)
{
  std::map<uint64_t, std::string> out;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return out;
    }
    for (const auto& kv : root) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
        continue;
      }
      std::string tag = tag_name(kv.second);
      if (tag != "str" && tag != "!") {
        continue;
      }
      if (auto key = pyyaml_int(kv.first.Scalar())) {
        out[*key] = kv.second.Scalar();
      }
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

} // namespace ptool::format
