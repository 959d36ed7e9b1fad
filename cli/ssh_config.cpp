// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool ssh-config: the ssh_config Host block that makes ssh use the TPM keys.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/error.hpp"
#include "core/keys/openssh.hpp"

#ifndef PTOOL_MODULE_PATH
#define PTOOL_MODULE_PATH "/usr/lib/pkcs11/tpm2-ptool-pkcs11.so"
#endif

namespace ptool::cli {

namespace {

struct SshConfigOptions
{
  std::string host;
  std::optional<std::string> label;
  std::string module = PTOOL_MODULE_PATH;
  OutputFormat output;
};

// A file name for the token's public keys: the label with anything unusual replaced.
std::string
file_part(const std::string& label)
{
  std::string out;
  for (char c : label) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.';
    out += plain ? c : '_';
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
  std::optional<Token> token;
  if (o.label) {
    store::Store st = open_store(g, store::Store::Mode::k_read_only);
    token = find_token(st, *o.label);
  }
  std::string pub =
    token ? "~/.ssh/tpm2-ptool-" + file_part(token->label.value_or("")) + ".pub" : "";
  if (o.output.json()) {
    // The settings of the Host block; see docs/schemas/ssh-config.schema.json.
    print_document(YamlNode::map({{str("host"), str(o.host)},
                                  {str("pkcs11_provider"), str(o.module)},
                                  {str("identity_agent"), str("none")},
                                  {str("token_label"),
                                   token ? str(token->label.value_or("")) : YamlNode::null()},
                                  {str("identity_file"), token ? str(pub) : YamlNode::null()},
                                  {str("identities_only"), YamlNode::boolean(token.has_value())}}),
                   o.output);
    return;
  }
  std::cout << "Host " << o.host << "\n"
            << "    PKCS11Provider " << o.module << "\n"
            << "    IdentityAgent none\n";
  if (token) {
    // With IdentitiesOnly, ssh offers only the module's keys that have a matching IdentityFile.
    // Pasted into ssh_config and run in a shell: no control character, quotes kept quoted.
    std::string shown = keys::printable_comment(token->label.value_or(""));
    std::string quoted;
    for (char c : shown) {
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    std::cout << "    # only the keys of token \"" << shown << "\"; create the file with:\n"
              << "    #   tpm2-ptool ssh-pubkey --label '" << quoted << "' > " << pub << "\n"
              << "    IdentityFile " << pub << "\n"
              << "    IdentitiesOnly yes\n";
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
  sub->add_option("--label", opts->label, "label of the token: offer only its keys");
  sub
    ->add_option("--module", opts->module,
                 "PKCS#11 module path (default: the installed one, " PTOOL_MODULE_PATH ")")
    ->type_name("FILE");
  add_output_option(sub, opts->output, DefaultOutput::k_text);
  sub->callback([opts, &g]() { run_ssh_config(*opts, g); });
}

} // namespace ptool::cli
