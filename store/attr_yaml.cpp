// SPDX-License-Identifier: BSD-2-Clause
#include "store/attr_yaml.hpp"

#include <cstring>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "core/keys/pkcs11_ids.hpp"
#include "store/attr_scan.hpp"

namespace ptool::store {

namespace {

constexpr std::string_view k_tag_prefix = "tag:yaml.org,2002:";

// One tagged, double-quoted scalar: what upstream's parser needs on every key and value.
void
tagged(YAML::Emitter& out, const char* tag, const std::string& value)
{
  out << YAML::SecondaryTag(tag) << YAML::DoubleQuoted << value;
}

std::string
tag_of(const YAML::Node& node)
{
  const std::string& t = node.Tag();
  if (t.rfind(k_tag_prefix, 0) == 0) {
    return t.substr(k_tag_prefix.size());
  }
  if (t.rfind("!!", 0) == 0) {
    return t.substr(2);
  }
  return t;
}

uint64_t
parse_int(const std::string& text)
{
  // Upstream reads !!int with strtoul(…, 0): decimal, 0x hex, or leading-zero octal.
  if (text.empty()) {
    throw std::runtime_error("empty !!int value");
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || text[0] == '-') {
    throw std::runtime_error("bad !!int value '" + text + "'");
  }
  return v;
}

YAML::Node
load_map(std::string_view yaml)
{
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("malformed YAML: ") + e.msg);
  }
  if (!root.IsMap()) {
    throw std::runtime_error("YAML is not a map");
  }
  return root;
}

bool
parse_bool(const YAML::Node& value, const std::string& key)
{
  if (tag_of(value) != "bool" || !value.IsScalar()) {
    throw std::runtime_error("'" + key + "' is not a !!bool");
  }
  return value.Scalar() == "true";
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool
is_utf8(std::string_view s)
{
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80             ? 0
               : (c & 0xe0) == 0xc0 ? 1
               : (c & 0xf0) == 0xe0 ? 2
               : (c & 0xf8) == 0xf0 ? 3
                                    : 4;
    if (n == 4 || s.size() - i - 1 < n) {
      return false;
    }
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = cp << 6 | (cc & 0x3f);
    }
    constexpr uint32_t k_min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < k_min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Config keys and string values must be tagged !!str: upstream's parser rejects the NULL
// tag libyaml gives an untagged scalar. Like libyaml we refuse text that is not UTF-8:
// yaml-cpp would read it, but its emitter writes U+FFFD instead, changing the value.
std::string
parse_str(const YAML::Node& value, const std::string& what)
{
  if (tag_of(value) != "str" || !value.IsScalar()) {
    throw std::runtime_error(what + " is not a !!str");
  }
  if (!is_utf8(value.Scalar())) {
    throw std::runtime_error(what + " is not valid UTF-8");
  }
  return value.Scalar();
}

std::string
config_key(const YAML::Node& key)
{
  return parse_str(key, "config key '" + key.as<std::string>("?") + "'");
}

} // namespace

std::string
emit_attrs(const AttrMap& attrs)
{
  YAML::Emitter out;
  out << YAML::BeginDoc << YAML::SecondaryTag("map") << YAML::BeginMap;
  for (const auto& [type, value] : attrs) {
    out << YAML::Key;
    tagged(out, "int", std::to_string(type));
    out << YAML::Value;
    switch (value.kind) {
    case AttrValue::Kind::k_int:
      tagged(out, "int", std::to_string(value.num));
      break;
    case AttrValue::Kind::k_bool:
      tagged(out, "bool", value.flag ? "true" : "false");
      break;
    case AttrValue::Kind::k_bytes:
      tagged(out, "str", to_hex(value.bytes));
      break;
    case AttrValue::Kind::k_seq:
      out << YAML::SecondaryTag("seq") << YAML::Flow << YAML::BeginSeq;
      for (uint64_t v : value.seq) {
        tagged(out, "int", std::to_string(v));
      }
      out << YAML::EndSeq;
      break;
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

AttrMap
parse_attrs_yaml(std::string_view yaml)
{
  AttrMap attrs;
  YAML::Node root = load_map(yaml);
  for (const auto& kv : root) {
    if (tag_of(kv.first) != "int" || !kv.first.IsScalar()) {
      throw std::runtime_error("attribute key '" + kv.first.as<std::string>("?")
                               + "' is not a !!int");
    }
    uint64_t type = parse_int(kv.first.Scalar());
    const YAML::Node& v = kv.second;
    std::string tag = tag_of(v);
    if (v.IsSequence()) {
      std::vector<uint64_t> seq;
      for (const auto& item : v) {
        if (tag_of(item) != "int" || !item.IsScalar()) {
          throw std::runtime_error("attribute " + std::to_string(type)
                                   + " has a list item that is not a !!int");
        }
        seq.push_back(parse_int(item.Scalar()));
      }
      attrs[type] = AttrValue::list(std::move(seq));
    } else if (!v.IsScalar()) {
      throw std::runtime_error("attribute " + std::to_string(type) + " is a nested map");
    } else if (tag == "int") {
      attrs[type] = AttrValue::integer(parse_int(v.Scalar()));
    } else if (tag == "bool") {
      attrs[type] = AttrValue::boolean(v.Scalar() == "true");
    } else if (tag == "str") {
      auto bytes = from_hex(v.Scalar());
      if (!bytes) {
        throw std::runtime_error("attribute " + std::to_string(type) + " is not hex");
      }
      attrs[type] = AttrValue::data(std::move(*bytes));
    } else {
      throw std::runtime_error("attribute " + std::to_string(type) + " has tag '" + v.Tag()
                               + "' (expected !!int, !!bool, !!str or !!seq)");
    }
  }
  return attrs;
}

AttrMap
parse_attrs(std::string_view yaml)
{
  // The layouts tpm2_ptool and we write take the fast scanner; anything else the full parser.
  std::optional<AttrMap> scanned = scan_attrs(yaml);
  AttrMap attrs = scanned ? std::move(*scanned) : parse_attrs_yaml(yaml);
  // upstream's library re-emits CKA_ALLOWED_MECHANISMS as hex of native little-endian
  // CK_ULONGs after C_SetAttributeValue (upstream issue #805): turn it back into a list.
  auto mech = attrs.find(ck::k_allowed_mechanisms);
  if (mech != attrs.end() && mech->second.kind == AttrValue::Kind::k_bytes) {
    const Bytes& raw = mech->second.bytes;
    if (raw.size() % 8 != 0) {
      throw std::runtime_error("CKA_ALLOWED_MECHANISMS is not a list of 8-byte values");
    }
    std::vector<uint64_t> seq;
    for (size_t i = 0; i < raw.size(); i += 8) {
      uint64_t v = 0;
      for (int b = 7; b >= 0; --b) {
        v = v << 8 | raw[i + static_cast<size_t>(b)];
      }
      seq.push_back(v);
    }
    mech->second = AttrValue::list(std::move(seq));
  }
  return attrs;
}

std::string
emit_token_config(const TokenConfig& config)
{
  YAML::Emitter out;
  out << YAML::BeginDoc << YAML::SecondaryTag("map") << YAML::BeginMap;
  if (config.empty_user_pin) {
    out << YAML::Key;
    tagged(out, "str", "empty-user-pin");
    out << YAML::Value;
    tagged(out, "bool", "true");
  }
  if (config.pss_sigs_good) {
    out << YAML::Key;
    tagged(out, "str", "pss-sigs-good");
    out << YAML::Value;
    tagged(out, "bool", *config.pss_sigs_good ? "true" : "false");
  }
  if (config.tcti) {
    out << YAML::Key;
    tagged(out, "str", "tcti");
    out << YAML::Value;
    tagged(out, "str", *config.tcti);
  }
  out << YAML::Key;
  tagged(out, "str", "token-init");
  out << YAML::Value;
  tagged(out, "bool", config.token_init ? "true" : "false");
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

TokenConfig
parse_token_config(std::string_view yaml)
{
  TokenConfig config;
  config.token_init = false;
  YAML::Node root = load_map(yaml);
  for (const auto& kv : root) {
    std::string key = config_key(kv.first);
    if (key == "token-init") {
      config.token_init = parse_bool(kv.second, key);
    } else if (key == "pss-sigs-good") {
      config.pss_sigs_good = parse_bool(kv.second, key);
    } else if (key == "empty-user-pin") {
      config.empty_user_pin = parse_bool(kv.second, key);
    } else if (key == "tcti") {
      config.tcti = parse_str(kv.second, "'tcti'");
    } else {
      throw std::runtime_error("unknown token config key '" + key + "'");
    }
  }
  return config;
}

std::string
emit_primary_config(const Primary& primary)
{
  YAML::Emitter out;
  out << YAML::BeginDoc << YAML::SecondaryTag("map") << YAML::BeginMap;
  if (primary.transient) {
    out << YAML::Key;
    tagged(out, "str", "template-name");
    out << YAML::Value;
    tagged(out, "str", primary.template_name);
  } else {
    out << YAML::Key;
    tagged(out, "str", "esys-tr");
    out << YAML::Value;
    tagged(out, "str", to_hex(primary.esys_tr));
  }
  out << YAML::Key;
  tagged(out, "str", "transient");
  out << YAML::Value;
  tagged(out, "bool", primary.transient ? "true" : "false");
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void
parse_primary_config(std::string_view yaml, Primary& primary)
{
  YAML::Node root = load_map(yaml);
  bool have_transient = false;
  for (const auto& kv : root) {
    std::string key = config_key(kv.first);
    if (key == "transient") {
      primary.transient = parse_bool(kv.second, key);
      have_transient = true;
    } else if (key == "esys-tr") {
      auto bytes = from_hex(parse_str(kv.second, "'esys-tr'"));
      if (!bytes) {
        throw std::runtime_error("'esys-tr' is not hex");
      }
      primary.esys_tr = std::move(*bytes);
    } else if (key == "template-name") {
      primary.template_name = parse_str(kv.second, "'template-name'");
    } else {
      throw std::runtime_error("unknown primary config key '" + key + "'");
    }
  }
  if (!have_transient) {
    throw std::runtime_error("primary config has no 'transient' key");
  }
  if (!primary.transient && primary.esys_tr.empty()) {
    throw std::runtime_error("persistent primary without 'esys-tr'");
  }
}

} // namespace ptool::store
