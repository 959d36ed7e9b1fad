// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool ssh-keygen: an SSH key in the TPM in one command, as ssh-keygen makes one on disk.
// Reuses (or creates) the store's primary and the token, creates the key, writes the .pub and
// prints the fingerprint, the randomart and the ssh_config lines that use the key.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/default_primary.hpp"
#include "cli/module_path.hpp"
#include "cli/output.hpp"
#include "cli/output_file.hpp"
#include "cli/spinner.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/keys/ssh_summary.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

namespace fs = std::filesystem;

// The library shows token labels through a 32-byte field; 31 bytes survive (as addtoken).
constexpr size_t k_max_token_label = 31;

struct SshKeygenOptions
{
  std::string label = "ssh";
  std::optional<std::string> key_label;
  std::string algorithm = "ecc256";
  std::optional<std::string> file;
  std::string host = "*";
  bool yes = false;
  TokenAuthOptions auth;
  OutputFormat output;
};

std::string
home_dir()
{
  if (const char* h = std::getenv("HOME"); h && *h == '/') {
    return h;
  }
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) {
    return pw->pw_dir;
  }
  throw_usage("cannot tell your home directory ($HOME is not set)",
              "set HOME or name the public key file with --file");
}

// ssh-keygen's default comment: user@host.
std::string
user_at_host()
{
  std::string user;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_name) {
    user = pw->pw_name;
  } else if (const char* u = std::getenv("USER")) {
    user = u;
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  return (user.empty() ? "user" : user) + "@" + (host[0] ? host : "localhost");
}

// A file name part: the key label with anything unusual replaced.
std::string
file_part(const std::string& label)
{
  std::string out;
  for (char c : label) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.' || c == '@';
    out += plain ? c : '_';
  }
  return out;
}

// ssh_config's IdentityFile in the user's terms: ~/… when it is under the home directory.
std::string
tilde_path(const fs::path& path, const std::string& home)
{
  std::string p = path.string();
  if (p.starts_with(home + "/")) {
    return "~" + p.substr(home.size());
  }
  return p;
}

// ssh-keygen's question for an existing file; only y or Y proceeds.
bool
confirm_overwrite(const fs::path& path)
{
  std::cerr << path.string() << " already exists.\nOverwrite (y/n)? " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) {
    return false;
  }
  return !line.empty() && (line[0] == 'y' || line[0] == 'Y');
}

void
validate(const SshKeygenOptions& o, const std::string& key_label)
{
  if (o.label.empty()) {
    throw_usage("--label must not be empty");
  }
  require_utf8(o.label, "--label");
  if (o.label.size() > k_max_token_label) {
    throw_usage("token label '" + o.label + "' is " + std::to_string(o.label.size())
                  + " bytes; at most 31 fit in a PKCS#11 token label",
                "choose a shorter --label");
  }
  require_utf8(key_label, "--key-label");
  // The label is the comment of the .pub line: a line break would end the line.
  if (key_label.empty() || key_label.find_first_of("\r\n") != std::string::npos) {
    throw_usage("--key-label must be one non-empty line");
  }
  if (o.host.empty() || o.host.find_first_of("\r\n#") != std::string::npos) {
    throw_usage("--host must be a host name or ssh_config pattern on one line");
  }
}

// Where the .pub goes; asks (or refuses) before anything is created when it exists.
fs::path
resolve_pub_file(const SshKeygenOptions& o, const std::string& key_label, const std::string& home)
{
  fs::path path = o.file ? fs::path(*o.file)
                         : fs::path(home) / ".ssh" / ("id_tpm_" + file_part(key_label) + ".pub");
  std::error_code ec;
  fs::file_status st = fs::symlink_status(path, ec);
  if (st.type() == fs::file_type::symlink) {
    throw_usage(path.string() + " is a symbolic link; not writing through it",
                "remove it or name another file with --file");
  }
  if (st.type() != fs::file_type::not_found && !o.yes) {
    if (!isatty(STDIN_FILENO)) {
      throw_usage(path.string() + " already exists",
                  "add --yes to overwrite it, or name another file with --file");
    }
    if (!confirm_overwrite(path)) {
      throw Error(ExitCode::k_general, "not overwriting " + path.string(),
                  "name another file with --file");
    }
  }
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path writable = dir;
  if (!fs::is_directory(dir, ec)) {
    if (o.file || dir != fs::path(home) / ".ssh") {
      throw_usage("directory " + dir.string() + " does not exist", "create it first");
    }
    writable = home; // ~/.ssh is created (0700, as ssh-keygen does) once the key exists
  }
  if (::access(writable.c_str(), W_OK) != 0) {
    throw Error(ExitCode::k_general,
                "cannot write to " + writable.string() + ": " + std::strerror(errno),
                "name another file with --file");
  }
  return path;
}

void
run_ssh_keygen(const SshKeygenOptions& o, const GlobalOptions& g)
{
  // 1. Validate everything the command line says, and where the .pub goes, before any TPM
  //    command or store change.
  const std::string key_label = o.key_label.value_or(user_at_host());
  validate(o, key_label);
  auto alg = tpm::parse_algorithm(o.algorithm);
  if (!alg || (alg->kind != tpm::KeyKind::k_rsa && alg->kind != tpm::KeyKind::k_ecc)
      || o.algorithm == "ecc224" || o.algorithm == "rsa1024") {
    throw_usage("--algorithm " + o.algorithm + " is not an SSH key type",
                "choose ecc256 (the default), ecc384, ecc521, rsa2048, rsa3072 or rsa4096");
  }
  const std::string home = o.file ? std::string() : home_dir();
  fs::path pub_file = resolve_pub_file(o, key_label, home);

  // 2. The TPM first: when it is unreachable nothing is created, not even a store file.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  store::Store st = open_store(g, store::Store::Mode::k_read_write);

  // 3. The token: reused (its user PIN asked once), or created under the store's first
  //    primary, or under a new persistent primary as init makes it.
  std::optional<Token> existing = st.token_by_label(o.label);
  std::optional<TokenForKeys> reuse;
  Primary primary;
  DefaultPrimary default_made;
  std::optional<tpm::PersistentPrimary>& new_primary = default_made.created;
  SecureBytes sopin;
  SecureBytes userpin;
  SecureBytes hierarchy_auth;
  if (existing) {
    reuse.emplace(resolve_token_for_keys(st, o.label, o.auth));
    primary = reuse->primary;
  } else {
    // Both PINs before the TPM does anything. The SO PIN is the way back from a forgotten
    // user PIN (initpin), so it is asked, never made up.
    sopin = read_secret(o.auth.sopin, Prompt::k_new_reask);
    userpin = read_secret(o.auth.userpin, Prompt::k_new_reask);
    hierarchy_auth = read_secret(o.auth.hierarchy_auth, Prompt::k_never, "");
    std::vector<Primary> primaries = st.primaries();
    if (!primaries.empty()) {
      primary = primaries.front();
    } else {
      // As init: an identical primary already at 0x81000001 is reused, not copied.
      default_primary(ctx.get(), hierarchy_auth, default_made);
      primary.esys_tr = default_made.esys_tr;
    }
  }
  if (reuse) {
    hierarchy_auth = reuse->hierarchy_auth;
  }

  // 4. TPM work: one salted session under the primary.
  tpm::AlgorithmSet algs = tpm::get_algorithms(ctx.get());
  bool pss_good = existing ? false : tpm::pss_sigs_good(ctx.get());
  tpm::PrimaryContext pc(ctx.get(), primary, hierarchy_auth);
  SecureBytes wrapping_key;
  SealObject seal;
  if (reuse) {
    wrapping_key = token::unseal_wrapping_key(pc, reuse->chosen_seal(), reuse->pin.pin);
  } else {
    // As addtoken: a new wrapping key sealed under each PIN.
    token::NewSeals made = token::create_token_seals(pc, userpin, sopin, false);
    seal = std::move(made.seal);
    wrapping_key = std::move(made.wrapping_key);
  }
  SecureBytes objauth = crypto::random_hex(16);
  keys::KeyObjectInput in;
  in.wrapped_auth = crypto::wrap_auth(wrapping_key, objauth);
  tpm::CreatedObject created;
  {
    Spinner spin("creating the " + o.algorithm + " key in the TPM");
    created = pc.create(tpm::key_template(*alg), objauth, {}, true);
  }
  in.pub = created.pub;
  in.priv = created.priv;
  in.id = to_bytes(crypto::random_hex(8).view()); // as addkey: 16 random hex characters
  in.label = key_label;
  std::vector<AttrMap> objects = keys::key_objects(in, algs);
  const AttrMap* public_attrs = nullptr;
  for (const AttrMap& attrs : objects) {
    if (keys::attr_int(attrs, ck::k_class) == ck::k_o_public_key) {
      public_attrs = &attrs;
    }
  }
  std::optional<std::string> line =
    public_attrs ? keys::openssh_public_line(*public_attrs) : std::nullopt;
  if (!line) {
    throw Error(ExitCode::k_general, "the new key has no OpenSSH public key");
  }

  // 5. One transaction: primary (when new), token and seals (when new), the key's objects.
  store::Transaction tx(st);
  if (new_primary || default_made.adopted) {
    primary.id = st.insert_primary(primary);
  }
  int64_t tokid = 0;
  if (reuse) {
    tokid = reuse->token.id;
  } else {
    Token token;
    token.pid = primary.id;
    token.label = o.label;
    token.config.token_init = true;
    token.config.pss_sigs_good = pss_good;
    token.config.empty_user_pin = userpin.empty();
    tokid = st.insert_token(token);
    seal.tokid = tokid;
    st.insert_seal_object(seal);
  }
  for (const AttrMap& attrs : objects) {
    st.insert_object(tokid, attrs);
  }
  tx.commit();
  if (new_primary) {
    new_primary->commit();
  }

  // 6. The .pub, then what ssh-keygen prints, then how to use it.
  const bool json = o.output.json();
  std::optional<std::string> created_dir;
  if (new_primary && !json) {
    std::cout << "Created a primary object at persistent handle 0x" << std::hex
              << new_primary->result().handle << std::dec << " (id " << primary.id << ").\n";
  } else if (default_made.adopted && !json) {
    std::cout << "Using the primary object already at persistent handle 0x" << std::hex
              << k_default_primary_handle << std::dec << " (id " << primary.id << ").\n";
  }
  if (!reuse && !json) {
    std::cout << "Created token \"" << o.label << "\" (SO and user PIN set).\n";
  }
  try {
    fs::path dir = pub_file.parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::is_directory(dir, ec)) {
      if (!fs::create_directory(dir, ec) || ::chmod(dir.c_str(), 0700) != 0) {
        throw Error(ExitCode::k_general,
                    "cannot create " + dir.string() + ": " + std::strerror(errno));
      }
      created_dir = dir.string();
      if (!json) {
        std::cout << "Created directory '" << dir.string() << "'.\n";
      }
    }
    write_public_file(pub_file, *line + "\n", true);
  } catch (const Error& e) {
    throw Error(e.reason(), std::string("the key was created, but ") + e.what(),
                "print it with 'tpm2-ptool ssh-pubkey --label " + o.label + " --key-label "
                  + key_label + "'");
  }
  const std::string module = module_path();
  const std::string identity =
    o.file ? fs::absolute(pub_file).string() : tilde_path(pub_file, home);
  const std::string fingerprint = keys::openssh_fingerprint(*line);
  const std::string randomart = keys::openssh_randomart(*public_attrs).value_or("");
  const std::string ssh_command =
    "ssh -I " + module + " -o IdentitiesOnly=yes -i " + identity + " HOST";
  if (json) {
    // The same facts as the text; see docs/schemas/ssh-keygen.schema.json.
    YamlNode created_primary = YamlNode::null();
    if (new_primary) {
      char handle[16];
      std::snprintf(handle, sizeof(handle), "0x%08x", new_primary->result().handle);
      Entries p;
      p.emplace_back(str("id"), YamlNode::integer(primary.id));
      p.emplace_back(str("handle"), str(handle));
      created_primary = YamlNode::map(std::move(p));
    }
    Entries cfg;
    cfg.emplace_back(str("host"), str(o.host));
    cfg.emplace_back(str("pkcs11_provider"), str(module));
    cfg.emplace_back(str("identity_file"), str(identity));
    cfg.emplace_back(str("identities_only"), YamlNode::boolean(true));
    Entries doc;
    doc.emplace_back(str("created_primary"), std::move(created_primary));
    doc.emplace_back(str("created_token"), YamlNode::boolean(!reuse));
    doc.emplace_back(str("created_directory"), created_dir ? str(*created_dir) : YamlNode::null());
    doc.emplace_back(str("token_label"), str(o.label));
    doc.emplace_back(str("key_label"), str(key_label));
    doc.emplace_back(str("public_key_file"), str(pub_file.string()));
    doc.emplace_back(str("public_key_line"), str(*line));
    doc.emplace_back(str("fingerprint"), str(fingerprint));
    doc.emplace_back(str("randomart"), str(randomart));
    doc.emplace_back(str("ssh_config"), YamlNode::map(std::move(cfg)));
    doc.emplace_back(str("ssh_command"), str(ssh_command));
    print_document(YamlNode::map(std::move(doc)), o.output);
    return;
  }
  std::cout << "Your public key has been saved in " << pub_file.string() << "\n"
            << "The key fingerprint is:\n"
            << fingerprint << " " << key_label << "\n"
            << "The key's randomart image is:\n"
            << randomart << "\n"
            << "The private key stays in the TPM (token \"" << o.label << "\"); "
            << "ssh uses it through the PKCS#11 module.\n"
            << "Add the public key to the server's ~/.ssh/authorized_keys, "
            << "and these lines to ~/.ssh/config:\n"
            << "Host " << o.host << "\n"
            << "    PKCS11Provider " << module << "\n"
            << "    IdentityFile " << identity << "\n"
            << "    IdentitiesOnly yes\n"
            << "or log in once with: " << ssh_command << "\n";
}

} // namespace

void
add_ssh_keygen(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<SshKeygenOptions>();
  CLI::App* sub = app.add_subcommand(
    "ssh-keygen", "Create an SSH key in the TPM in one command (primary and token too when "
                  "missing), write its .pub and print how ssh uses it");
  sub->footer("Example: tpm2-ptool ssh-keygen\n"
              "         TPM2_PTOOL_USERPIN=... tpm2-ptool ssh-keygen --label ssh --key-label "
              "laptop --yes");
  sub->add_option("--label", opts->label, "label of the token, created when missing")
    ->default_str("ssh");
  sub->add_option("--key-label", opts->key_label,
                  "label of the key and comment of the .pub (default: user@host, as ssh-keygen)");
  complete_as(sub
                ->add_option("--algorithm", opts->algorithm,
                             "ecc256|ecc384|ecc521|rsa2048|rsa3072|rsa4096 (default ecc256)")
                ->default_str("ecc256"),
              ValueKind::k_algorithms,
              {"ecc256", "ecc384", "ecc521", "rsa2048", "rsa3072", "rsa4096"});
  sub
    ->add_option("--file", opts->file,
                 "where to write the public key (default ~/.ssh/id_tpm_<key-label>.pub)")
    ->type_name("FILE");
  sub->add_option("--host", opts->host, "Host pattern of the printed ssh_config lines")
    ->default_str("*");
  sub->add_flag("--yes,-y", opts->yes, "overwrite an existing public key file without asking");
  add_token_auth_options(sub, opts->auth);
  add_output_option(sub, opts->output, DefaultOutput::k_text);
  sub->callback([opts, &g]() { run_ssh_keygen(*opts, g); });
}

} // namespace ptool::cli
