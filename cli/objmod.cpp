// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool objmod: dump an object's attributes, or change one attribute or all of them.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "core/error.hpp"
#include "format/ck_names.hpp"
#include "format/attr_file.hpp"
#include "store/object_attrs.hpp"

namespace ptool::cli {

namespace {

struct ObjModOptions
{
  std::string id;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::optional<std::string> type;
  std::optional<std::string> file;
  OutputFormat output;
};

// `raw`: the value's text as the row holds it, when it is a string there (upstream prints
// what PyYAML loaded, so hex keeps the case it was stored with).
YamlNode
to_node(const AttrValue& v, const std::string* raw = nullptr)
{
  if (raw && v.kind == AttrValue::Kind::k_bytes) {
    return YamlNode::string(*raw);
  }
  switch (v.kind) {
  case AttrValue::Kind::k_int:
    return YamlNode::integer(static_cast<int64_t>(v.num));
  case AttrValue::Kind::k_bool:
    return YamlNode::boolean(v.flag);
  case AttrValue::Kind::k_bytes:
    return YamlNode::string(to_hex(v.bytes));
  case AttrValue::Kind::k_seq:
    break;
  }
  std::vector<YamlNode> items;
  for (uint64_t x : v.seq) {
    items.push_back(YamlNode::integer(static_cast<int64_t>(x)));
  }
  return YamlNode::seq(std::move(items));
}

// --key: a CKA_ name or a number in any base.
uint64_t
parse_key(const std::string& key)
{
  if (auto n = format::cka_by_name(key)) {
    return *n;
  }
  if (key.rfind("CKA_", 0) == 0) {
    throw_usage("Unknown key: " + key, "use a CKA_ name as objmod prints it, or a number");
  }
  int64_t n = parse_number(key, "attribute key");
  if (n < 0) {
    throw_usage("Unknown key: " + key);
  }
  return static_cast<uint64_t>(n);
}

AttrValue
parse_value(const std::string& value, const std::string& type)
{
  if (type == "int") {
    int64_t n = parse_number(value, "int value");
    if (n < 0) {
      throw_usage("int value '" + value + "' is negative; CK_ULONG values are unsigned");
    }
    return AttrValue::integer(static_cast<uint64_t>(n));
  }
  if (type == "bool") {
    std::string v;
    for (char c : value) {
      v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (v == "yes" || v == "true" || v == "t" || v == "y" || v == "1") {
      return AttrValue::boolean(true);
    }
    if (v == "no" || v == "false" || v == "f" || v == "n" || v == "0") {
      return AttrValue::boolean(false);
    }
    throw_usage("Boolean value expected, got '" + value + "'");
  }
  if (type == "str") {
    return AttrValue::data(to_bytes(value));
  }
  // raw: upstream stores the text verbatim; the library then needs it to be hex.
  auto bytes = from_hex(value);
  if (!bytes) {
    throw_usage("raw value '" + value + "' is not an even-length hex string",
                "give the attribute's bytes in hex, or use --type str for text");
  }
  return AttrValue::data(std::move(*bytes));
}

std::string
read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_usage("cannot read attribute file " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void
run_objmod(const ObjModOptions& o, const GlobalOptions& g)
{
  if (o.file && o.key) {
    throw_usage("Cannot specify --key when specifying the attributes");
  }
  if (o.file && o.value) {
    throw_usage("Cannot specify --value when specifying the attributes");
  }
  if (o.value && !o.key) {
    throw_usage("--value needs --key");
  }
  if (o.value && !o.type) {
    throw_usage("require --type when specifying --value", "add --type int|str|bool|raw");
  }
  int64_t id = parse_number(o.id, "object id");
  std::optional<uint64_t> key = o.key ? std::optional(parse_key(*o.key)) : std::nullopt;
  std::optional<AttrValue> value =
    o.value ? std::optional(parse_value(*o.value, *o.type)) : std::nullopt;
  std::optional<AttrMap> replacement =
    o.file ? std::optional(format::parse_plain_attrs(read_file(*o.file))) : std::nullopt;

  bool write = value || replacement;
  store::Store st =
    open_store(g, write ? store::Store::Mode::k_existing : store::Store::Mode::k_read_only);
  std::optional<store::Transaction> tx;
  if (write) {
    tx.emplace(st);
  }
  auto obj = st.object(id);
  if (!obj) {
    throw_not_found("Not found, object with id: " + std::to_string(id),
                    "list a token's objects with 'tpm2-ptool listobjects --label L'");
  }
  std::map<uint64_t, std::string> texts;
  if (!write && !o.output.json()) { // JSON keeps lowercase hex (docs/schemas/objmod)
    texts = format::attr_string_texts(store::object_attrs_text(st, id).value_or(std::string()));
  }
  auto raw = [&texts](uint64_t type) {
    auto it = texts.find(type);
    return it == texts.end() ? nullptr : &it->second;
  };
  if (!key && !replacement) {
    std::vector<YamlEntry> m;
    for (const auto& [type, v] : obj->attrs) {
      m.emplace_back(YamlNode::integer(static_cast<int64_t>(type)), to_node(v, raw(type)));
    }
    print_document(YamlNode::map(std::move(m)), o.output);
    return;
  }
  if (key && !value) {
    auto it = obj->attrs.find(*key);
    if (it == obj->attrs.end()) {
      throw_not_found("Key not found: object " + std::to_string(id) + " has no attribute "
                      + format::cka_name(*key).value_or(std::to_string(*key)));
    }
    auto name = format::cka_name(*key);
    YamlNode k = name ? YamlNode::string(*name) : YamlNode::integer(static_cast<int64_t>(*key));
    print_document(YamlNode::map({{k, to_node(it->second, raw(*key))}}), o.output);
    return;
  }
  AttrMap attrs = replacement ? *replacement : obj->attrs;
  if (value) {
    attrs[*key] = *value;
  }
  st.update_object_attrs(id, attrs);
  tx->commit();
}

} // namespace

void
add_objmod(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<ObjModOptions>();
  CLI::App* sub = app.add_subcommand("objmod", "Dump or modify an object's attributes");
  sub->footer("Example: tpm2-ptool objmod --id 3 --key CKA_LABEL --value laptop --type str");
  sub->add_option("--id", opts->id, "id of the object (see listobjects)")->required();
  sub->add_option("--key", opts->key, "attribute to show or set: CKA_ name or number");
  sub->add_option("--value", opts->value, "new value of --key (needs --type)");
  sub->add_option("--type", opts->type, "how to read --value: int, str (text), bool, raw (hex)")
    ->check(CLI::IsMember({"int", "str", "bool", "raw"}));
  complete_as(sub->add_option("attrs", opts->file,
                              "YAML file replacing all attributes (as objmod dumps them)"),
              ValueKind::k_file);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_objmod(*opts, g); });
}

} // namespace ptool::cli
