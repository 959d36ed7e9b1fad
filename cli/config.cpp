// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool config: show or change a token's configuration (tokens.config).
#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/pyyaml.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"

namespace ptool::cli {

namespace {

constexpr const char* k_keys_hint = "valid keys: token-init, tcti (settable); empty-user-pin, "
                                    "pss-sigs-good (read only)";

struct ConfigOptions
{
  std::string label;
  std::optional<std::string> key;
  std::optional<std::string> value;
  OutputFormat output;
};

// Upstream's str2bool.
bool
parse_bool(std::string v)
{
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* t : {"yes", "true", "t", "y", "1"}) {
    if (v == t) {
      return true;
    }
  }
  for (const char* f : {"no", "false", "f", "n", "0"}) {
    if (v == f) {
      return false;
    }
  }
  throw_usage("Boolean value expected, got '" + v + "'", "use true or false");
}

const char*
py_bool(bool b)
{
  return b ? "True" : "False";
}

void
print_all(const TokenConfig& c, const OutputFormat& output)
{
  std::vector<YamlEntry> m;
  if (c.empty_user_pin) {
    m.emplace_back(YamlNode::string("empty-user-pin"), YamlNode::boolean(true));
  }
  if (c.pss_sigs_good) {
    m.emplace_back(YamlNode::string("pss-sigs-good"), YamlNode::boolean(*c.pss_sigs_good));
  }
  if (c.tcti) {
    m.emplace_back(YamlNode::string("tcti"), YamlNode::string(*c.tcti));
  }
  m.emplace_back(YamlNode::string("token-init"), YamlNode::boolean(c.token_init));
  print_document(YamlNode::map(std::move(m)), output);
}

// `key=value` as upstream prints it (Python str(): True/False, empty when unset).
// JSON: {"<key>": value}, the value typed as in the full dump, null when unset.
void
print_key(const TokenConfig& c, const std::string& key, const OutputFormat& output)
{
  std::string v;
  YamlNode j;
  if (key == "token-init") {
    v = py_bool(c.token_init);
    j = YamlNode::boolean(c.token_init);
  } else if (key == "tcti") {
    v = c.tcti.value_or("");
    j = c.tcti ? str(*c.tcti) : YamlNode::null();
  } else if (key == "empty-user-pin") {
    v = c.empty_user_pin ? "True" : "";
    j = c.empty_user_pin ? YamlNode::boolean(true) : YamlNode::null();
  } else if (key == "pss-sigs-good") {
    v = c.pss_sigs_good ? py_bool(*c.pss_sigs_good) : "";
    j = c.pss_sigs_good ? YamlNode::boolean(*c.pss_sigs_good) : YamlNode::null();
  } else if (key == "log-level") {
    std::cerr << "tpm2-ptool: warning: log-level is deprecated and never stored; set "
                 "TPM2_PKCS11_LOG_LEVEL instead\n";
  } else {
    throw_usage("unknown config key '" + key + "'", k_keys_hint);
  }
  if (output.json()) {
    print_document(YamlNode::map({{str(key), j}}), output);
    return;
  }
  std::cout << key << "=" << v << "\n";
}

void
run_config(const ConfigOptions& o, const GlobalOptions& g)
{
  if (!o.key && o.value) {
    throw_usage("Cannot specify --value without a key", "add --key token-init or --key tcti");
  }
  bool set = o.key && o.value && !o.value->empty();
  if (set) {
    if (*o.key == "empty-user-pin") {
      throw_usage("'empty-user-pin' can only be set with changepin or initpin");
    }
    if (*o.key == "log-level") {
      // The library rejects unknown config keys and would refuse the whole store.
      throw_usage("log-level is deprecated and cannot be stored in the token config",
                  "set TPM2_PKCS11_LOG_LEVEL in the application's environment instead");
    }
    if (*o.key == "pss-sigs-good") {
      throw_usage("pss-sigs-good is measured from the TPM by addtoken and cannot be set");
    }
    if (*o.key != "token-init" && *o.key != "tcti") {
      throw_usage("unknown config key '" + *o.key + "'", k_keys_hint);
    }
  }
  store::Store st =
    open_store(g, set ? store::Store::Mode::k_existing : store::Store::Mode::k_read_only);
  if (!set) {
    Token token = find_token(st, o.label);
    if (o.key) {
      print_key(token.config, *o.key, o.output);
    } else {
      print_all(token.config, o.output);
    }
    return;
  }

  store::Transaction tx(st);
  Token token = find_token(st, o.label);
  if (*o.key == "token-init") {
    bool init = parse_bool(*o.value);
    // The library requires a seal object row for an initialized token and fails to load
    // the whole store without one.
    if (init && !st.seal_object(token.id)) {
      throw_usage("token \"" + o.label + "\" has no seal objects; token-init cannot be true",
                  "initialize it with C_InitToken (e.g. pkcs11-tool --init-token)");
    }
    token.config.token_init = init;
  } else {
    token.config.tcti = *o.value;
  }
  st.update_token_config(token.id, token.config);
  tx.commit();
}

} // namespace

void
add_config(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<ConfigOptions>();
  CLI::App* sub = app.add_subcommand("config", "Show or change a token's configuration");
  sub->footer("Example: tpm2-ptool config --label ssh --key tcti --value device:/dev/tpmrm0");
  sub->add_option("--label", opts->label, "label of the token")->required();
  sub->add_option("--key", opts->key,
                  "token-init or tcti (also readable: empty-user-pin, "
                  "pss-sigs-good)");
  sub->add_option("--value", opts->value, "new value for --key");
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_config(*opts, g); });
}

} // namespace ptool::cli
