// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool ssh-config: the ssh_config Host block that makes ssh use the TPM keys.
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "cli/module_path.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::cli {

namespace {

struct SshConfigOptions
{
  std::string host;
  std::optional<std::string> label;
  std::optional<std::string> key_label;
  std::string module = module_path();
  OutputFormat output;
};

// A file name part: the text with anything unusual replaced.
std::string
file_part(const std::string& text)
{
  std::string out;
  for (char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.';
    out += plain ? c : '_';
  }
  return out;
}

// A word for the shell comment that shows how to write the file.
std::string
shell_quote(const std::string& s)
{
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

bool
printable(const std::string& s)
{
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

// One SSH key of the token and the file its IdentityFile line names. ssh reads only the
// first key of an IdentityFile, so every key gets its own file.
struct KeyFile
{
  std::string select; // the ssh-pubkey option that prints this key alone
  std::string path;
};

std::vector<KeyFile>
key_files(const store::Store& st, const Token& token, const std::optional<std::string>& only)
{
  struct Key
  {
    std::string label;
    std::string id_hex;
  };
  std::vector<Key> keys;
  std::map<std::string, int> label_count;
  for (const Object& obj : st.objects(token.id)) {
    if (keys::attr_int(obj.attrs, ck::k_class) != ck::k_o_public_key
        || !keys::openssh_public_line(obj.attrs)) {
      continue;
    }
    const Bytes* label = keys::attr_bytes(obj.attrs, ck::k_label);
    const Bytes* id = keys::attr_bytes(obj.attrs, ck::k_id);
    Key k{label ? to_string(*label) : "", id ? to_hex(*id) : ""};
    if (only && k.label != *only) {
      continue;
    }
    ++label_count[k.label];
    keys.push_back(std::move(k));
  }
  const std::string token_label = token.label.value_or("");
  if (keys.empty()) {
    if (only) {
      throw_not_found("no RSA or EC key in token \"" + token_label + "\" has the label \"" + *only
                        + "\"",
                      "list the token's keys with 'tpm2-ptool ssh-pubkey --label " + token_label
                        + " --fingerprint'");
    }
    throw_not_found("token \"" + token_label + "\" has no RSA or EC key for ssh",
                    "create one with 'tpm2-ptool addkey --label " + token_label
                      + " --algorithm ecc256 --key-label NAME' or 'tpm2-ptool ssh-keygen'");
  }
  std::vector<KeyFile> out;
  for (const Key& k : keys) {
    // By label when it names this key alone and fits a shell line, else by CKA_ID.
    bool by_label = !k.label.empty() && label_count[k.label] == 1 && printable(k.label);
    out.push_back({by_label ? "--key-label " + shell_quote(k.label) : "--id " + k.id_hex,
                   "~/.ssh/tpm2-ptool-" + file_part(token_label) + "-"
                     + file_part(by_label ? k.label : k.id_hex) + ".pub"});
  }
  return out;
}

void
run_ssh_config(const SshConfigOptions& o, const GlobalOptions& g)
{
  // The block is pasted into ssh_config: a line break or '#' in a value would change its
  // meaning beyond the one Host block.
  if (o.host.empty() || o.host.find_first_of("\r\n#") != std::string::npos) {
    throw_usage("--host must be a host name or ssh_config pattern on one line");
  }
  if (o.module.find_first_of("\r\n") != std::string::npos || !o.module.starts_with("/")) {
    throw_usage("--module must be an absolute path", "ssh loads PKCS#11 modules by full path");
  }
  if (o.key_label && !o.label) {
    throw_usage("--key-label needs --label", "name the token the key is in with --label");
  }
  std::optional<Token> token;
  std::vector<KeyFile> files;
  if (o.label) {
    store::Store st = open_store(g, store::Store::Mode::k_read_only);
    token = find_token(st, *o.label);
    files = key_files(st, *token, o.key_label);
  }
  const std::string token_label = token ? token->label.value_or("") : "";
  if (o.output.json()) {
    // The settings of the Host block; see docs/schemas/ssh-config.schema.json.
    std::vector<YamlNode> paths;
    for (const KeyFile& f : files) {
      paths.push_back(str(f.path));
    }
    print_document(YamlNode::map({{str("host"), str(o.host)},
                                  {str("pkcs11_provider"), str(o.module)},
                                  {str("identity_agent"), str("none")},
                                  {str("token_label"), token ? str(token_label) : YamlNode::null()},
                                  {str("identity_file"),
                                   files.empty() ? YamlNode::null() : str(files.front().path)},
                                  {str("identity_files"), YamlNode::seq(std::move(paths))},
                                  {str("identities_only"), YamlNode::boolean(token.has_value())}}),
                   o.output);
    return;
  }
  std::cout << "Host " << o.host << "\n"
            << "    PKCS11Provider " << o.module << "\n"
            << "    IdentityAgent none\n";
  if (token) {
    // With IdentitiesOnly, ssh offers only the module's keys that have a matching IdentityFile.
    std::cout << "    # only " << (files.size() == 1 ? "this key" : "these keys") << " of token \""
              << (printable(token_label) ? token_label : "?") << "\"; create the "
              << (files.size() == 1 ? "file" : "files") << " with:\n";
    for (const KeyFile& f : files) {
      std::string command =
        "tpm2-ptool ssh-pubkey --label " + shell_quote(token_label) + " " + f.select;
      std::cout << "    #   " << (printable(command) ? command : "tpm2-ptool ssh-pubkey ...")
                << " > " << f.path << "\n";
    }
    for (const KeyFile& f : files) {
      std::cout << "    IdentityFile " << f.path << "\n";
    }
    std::cout << "    IdentitiesOnly yes\n";
  }
}

} // namespace

void
add_ssh_config(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<SshConfigOptions>();
  CLI::App* sub = app.add_subcommand("ssh-config", "Print an ssh_config Host block that uses the "
                                                   "TPM keys through the PKCS#11 module");
  sub->footer("Example: tpm2-ptool ssh-config --host 'build.example.org' --label laptop "
              ">> ~/.ssh/config");
  sub->add_option("--host", opts->host, "host name or pattern for the Host line")->required();
  sub->add_option("--label", opts->label,
                  "label of the token: offer only its keys, one IdentityFile per key");
  sub->add_option("--key-label", opts->key_label, "only the key with this label (with --label)");
  sub
    ->add_option("--module", opts->module,
                 "PKCS#11 module path (default: the one installed next to this binary)")
    ->type_name("FILE");
  add_output_option(sub, opts->output, DefaultOutput::k_text);
  sub->callback([opts, &g]() { run_ssh_config(*opts, g); });
}

} // namespace ptool::cli
