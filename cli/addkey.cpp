// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool addkey: create a key in the TPM under a token's primary and store it.
#include <cctype>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/spinner.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/templates.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct AddKeyOptions
{
  std::string label;
  std::string algorithm;
  std::optional<std::string> key_label;
  std::optional<std::string> id;
  bool always_authenticate = false;
  TokenAuthOptions auth;
  OutputFormat output;
};

void
run_addkey(const AddKeyOptions& o, const GlobalOptions& g)
{
  // 1. Validate.
  auto alg = tpm::parse_algorithm(o.algorithm);
  std::string lower;
  for (char c : o.algorithm) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!alg
      && (lower.starts_with("ed25519") || lower.starts_with("ed448") || lower.starts_with("x25519")
          || lower.starts_with("curve25519"))) {
    throw Error(ExitCode::k_unsupported,
                "TPMs do not do " + o.algorithm
                  + ": TPM 2.0 has no Edwards curves (Ed25519/Ed448), only NIST/BN curves",
                "for an SSH key use --algorithm ecc256 (ecdsa-sha2-nistp256, which every "
                "OpenSSH accepts); 'tpm2-ptool doctor' lists what this TPM supports");
  }
  if (!alg) {
    throw_usage("unknown --algorithm '" + o.algorithm + "'",
                "choose one of rsa1024 rsa2048 rsa3072 rsa4096 aes128 aes256 ecc224 ecc256 "
                "ecc384 ecc521 hmac:sha1 hmac:sha256 hmac:sha384 hmac:sha512 ('tpm2-ptool "
                "doctor' lists the ones this TPM supports)");
  }
  if (o.id && o.id->empty()) {
    throw_usage("--id must not be empty");
  }
  require_utf8(o.label, "--label");
  if (o.key_label) {
    require_utf8(*o.key_label, "--key-label");
  }
  if (o.id) {
    require_utf8(*o.id, "--id");
  }

  // 2. Resolve the token, its primary and seal object, and the PIN.
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  TokenForKeys t = resolve_token_for_keys(st, o.label, o.auth);

  // 3. TPM: one salted session; unseal the wrapping key; create the key.
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), t.primary, t.hierarchy_auth);
  SecureBytes key = token::unseal_wrapping_key(pc, t.chosen_seal(), t.pin.pin);
  SecureBytes objauth = crypto::random_hex(16);
  keys::KeyObjectInput in;
  in.wrapped_auth = crypto::wrap_auth(key, objauth);
  tpm::CreatedObject created;
  try {
    Spinner spin("creating the " + o.algorithm + " key in the TPM");
    created = pc.create(tpm::key_template(*alg), objauth, {}, true);
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_unsupported) {
      throw;
    }
    throw Error(ExitCode::k_unsupported,
                "this TPM does not support --algorithm " + o.algorithm + " (" + e.what() + ")",
                e.hint());
  }
  in.pub = created.pub;
  in.priv = created.priv;
  keys::set_identity(in, o.id, o.key_label, o.always_authenticate);
  // Ask the TPM for its algorithms only when the store's keys do not tell.
  tpm::AlgorithmSet algs = algorithms_for_key(st, t.primary.id, in.pub.publicArea.type, ctx.get());
  std::vector<AttrMap> objects = keys::key_objects(in, algs);

  // 4. Store private (or secret) first, then public, in one transaction.
  store_key_objects(st, t, objects);

  std::string id_hex = to_hex(in.id);
  print_document(key_report("add", id_hex, objects.size() > 1), o.output, "");
}

} // namespace

void
add_addkey(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<AddKeyOptions>();
  CLI::App* sub = app.add_subcommand("addkey", "Create a TPM key in a token");
  sub->footer("Example: TPM2_PTOOL_USERPIN=user tpm2-ptool addkey --label ssh --algorithm ecc256 "
              "--key-label laptop");
  sub->add_option("--label", opts->label, "label of the token")->required();
  complete_as(sub
                ->add_option("--algorithm", opts->algorithm,
                             "rsa1024|rsa2048|rsa3072|rsa4096|aes128|aes256|ecc224|ecc256|ecc384|"
                             "ecc521|hmac:sha1|hmac:sha256|hmac:sha384|hmac:sha512")
                ->required(),
              ValueKind::k_algorithms, tpm::algorithm_names());
  sub->add_option("--key-label", opts->key_label, "label of the key (CKA_LABEL)");
  sub->add_option("--id", opts->id, "CKA_ID text of the key; default 16 random hex characters");
  sub->add_flag("--attr-always-authenticate", opts->always_authenticate,
                "require the PIN again for every use (CKA_ALWAYS_AUTHENTICATE)");
  add_token_auth_options(sub, opts->auth);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_addkey(*opts, g); });
}

} // namespace ptool::cli
