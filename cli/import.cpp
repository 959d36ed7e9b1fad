// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool import: wrap an existing software key (PEM, DER, PKCS#8, OpenSSH, raw HMAC) with
// TPM2_Import under a token's primary. Only the TPM-wrapped blob is stored.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/import.hpp"
#include "core/tpm/key_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

const std::vector<std::string> k_import_algorithms = {
  "rsa", "ecc", "hmac", "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"};

struct ImportOptions
{
  std::string label;
  std::string privkey;
  std::optional<std::string> algorithm;
  std::optional<std::string> passin;
  std::optional<std::string> key_label;
  std::optional<std::string> id;
  bool always_authenticate = false;
  TokenAuthOptions auth;
  OutputFormat output;
};

// The private key file, read with read(2) straight into wiped memory (no stream buffer).
SecureBytes
read_key_file(const std::string& path)
{
  constexpr size_t k_max_key_file = 1 << 20; // PEM / OpenSSH keys are a few KiB
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw_usage("cannot open --privkey file " + path);
  }
  SecureBytes data;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      OPENSSL_cleanse(buf, sizeof(buf));
      throw Error(ExitCode::k_general,
                  "cannot read --privkey file " + path + ": " + std::strerror(err),
                  "give the path of a private key file");
    }
    if (n == 0) {
      break;
    }
    data.insert(data.end(), buf, buf + n); // a reallocation wipes the old buffer
    if (data.size() > k_max_key_file) {
      OPENSSL_cleanse(buf, sizeof(buf));
      throw_usage("--privkey file " + path + " is larger than 1 MiB: not a private key file");
    }
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  if (data.empty()) {
    throw_usage("--privkey file " + path + " is empty");
  }
  return data;
}

// OpenSSL's -passin syntax: pass:X, env:VAR, file:PATH (first line).
SecureBytes
read_passin(const std::string& arg)
{
  SecretOption opt{"--passin", "", "key passphrase"};
  SecureBytes raw = argv_secret(arg);
  std::string_view spec = raw.view();
  if (spec.rfind("pass:", 0) == 0) {
    return SecureBytes::from(spec.substr(5));
  }
  if (spec.rfind("env:", 0) == 0) {
    std::string var(spec.substr(4));
    const char* v = std::getenv(var.c_str());
    if (!v) {
      throw_usage("--passin: environment variable " + var + " is not set");
    }
    return SecureBytes::from(v);
  }
  if (spec.rfind("file:", 0) == 0) {
    opt.file = std::string(spec.substr(5));
    SecureBytes all = read_secret(opt, Prompt::k_never);
    auto nl = std::find(all.begin(), all.end(), '\n');
    return SecureBytes(all.begin(), nl);
  }
  throw_usage("--passin must be pass:X, env:VAR or file:PATH");
}

void
run_import(const ImportOptions& o, const GlobalOptions& g)
{
  // 1. Validate and decode the key before anything else.
  std::string alg = o.algorithm.value_or("");
  if (!alg.empty() && alg != "rsa" && alg != "ecc") {
    keys::hmac_import_hash(alg);
  }
  if (o.id && o.id->empty()) {
    throw_usage("--id must not be empty");
  }
  SecureBytes file = read_key_file(o.privkey);
  keys::PlainKey key;
  if (alg.rfind("hmac", 0) == 0) {
    key.kind = keys::PlainKey::Kind::k_hmac;
    key.secret = file;
  } else {
    std::optional<SecureBytes> pass;
    if (o.passin) {
      pass = read_passin(*o.passin);
    }
    key = keys::decode_private_key(file, pass);
    bool is_rsa = key.kind == keys::PlainKey::Kind::k_rsa;
    if ((alg == "rsa" && !is_rsa) || (alg == "ecc" && is_rsa)) {
      throw_usage("--algorithm " + alg + " does not match the key in " + o.privkey);
    }
  }

  // 2. Token, primary, seal object, PIN.
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  TokenForKeys t = resolve_token_for_keys(st, o.label, o.auth);

  // 3. TPM: unseal the wrapping key, import under the primary with a fresh random auth.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), t.primary, t.hierarchy_auth);
  SecureBytes wrapping = token::unseal_wrapping_key(pc, t.chosen_seal(), t.pin.pin);
  SecureBytes objauth = crypto::random_hex(16);
  TPM2_ALG_ID hash =
    key.kind == keys::PlainKey::Kind::k_hmac ? keys::hmac_import_hash(alg) : TPM2_ALG_NULL;
  tpm::ImportAreas areas;
  tpm::build_import_areas(key, objauth, hash, areas);
  // The TPM's algorithms from the store's keys where it tells, else one GetCapability (a
  // generic secret's list depends on the TPM's hash algorithms: always asked).
  const bool generic = key.kind == keys::PlainKey::Kind::k_hmac && hash == TPM2_ALG_NULL;
  tpm::AlgorithmSet algs =
    generic ? tpm::get_algorithms(ctx.get())
            : algorithms_for_key(st, t.primary.id, areas.pub.publicArea.type, ctx.get());
  keys::KeyObjectInput in;
  in.pub = areas.pub;
  in.priv = tpm::import_sensitive(pc, areas.pub, areas.sensitive);
  in.wrapped_auth = crypto::wrap_auth(wrapping, objauth);
  keys::set_identity(in, o.id, o.key_label, o.always_authenticate);
  // The TPM checks that the blob loads; so do we, before storing it.
  pc.load(in.pub, in.priv, true); // the session\'s last command
  std::vector<AttrMap> objects = key.kind == keys::PlainKey::Kind::k_hmac && hash == TPM2_ALG_NULL
                                   ? keys::generic_secret_objects(in, algs, key.secret.size())
                                   : keys::key_objects(in, algs);

  // 4. Store private (or secret) first, then public.
  store_key_objects(st, t, objects);

  std::string id_hex = to_hex(in.id);
  print_document(key_report("import", id_hex, objects.size() > 1), o.output, "");
}

} // namespace

void
add_import(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<ImportOptions>();
  CLI::App* sub = app.add_subcommand("import", "Import a software private key into a token "
                                               "(TPM2_Import)");
  sub->footer("Example: TPM2_PTOOL_USERPIN=user tpm2-ptool import --label ssh --privkey "
              "~/.ssh/id_ecdsa --key-label laptop");
  sub->add_option("--label", opts->label, "label of the token")->required();
  sub
    ->add_option("--privkey", opts->privkey,
                 "private key file: PEM/DER/PKCS#8 (RSA, EC), OpenSSH, or raw HMAC key")
    ->required();
  complete_as(sub->get_option("--privkey"), ValueKind::k_file);
  sub
    ->add_option("--algorithm", opts->algorithm,
                 "rsa|ecc|hmac|hmac:sha1|hmac:sha256|hmac:sha384|hmac:sha512 "
                 "(default: from the key)")
    ->check(CLI::IsMember(k_import_algorithms));
  complete_as(sub->get_option("--algorithm"), ValueKind::k_words, k_import_algorithms);
  sub->add_option("--passin", opts->passin,
                  "passphrase of the key file: pass:X, env:VAR, file:PATH");
  sub->add_option("--key-label", opts->key_label, "label of the key (CKA_LABEL)");
  sub->add_option("--id", opts->id, "CKA_ID text of the key; default 16 random hex characters");
  sub->add_flag("--attr-always-authenticate", opts->always_authenticate,
                "require the PIN again for every use (CKA_ALWAYS_AUTHENTICATE)");
  add_token_auth_options(sub, opts->auth);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_import(*opts, g); });
}

} // namespace ptool::cli
