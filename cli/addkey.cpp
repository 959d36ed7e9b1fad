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

// The CKA_ALLOWED_MECHANISMS list of the first object key_objects() makes (the private or
// secret key), or nullptr.
const std::vector<uint64_t>*
allowed_mechanisms(const AttrMap& attrs)
{
  auto it = attrs.find(ck::k_allowed_mechanisms);
  return it != attrs.end() && it->second.kind == AttrValue::Kind::k_seq ? &it->second.seq : nullptr;
}

// What the store already says about the TPM's algorithms, so that addkey need not ask
// (TPM2_GetCapability) every time: the mechanism list a key's objects get depends on the
// TPM only through RSA-PSS, SHA-384/512 (RSA, EC) and the AES modes, and every key this tool
// added under the same primary (the same TPM: its seal just unsealed under that primary)
// carries the list it computed from the TPM's answer. Returns the algorithm set that
// reproduces the list of an existing key of the same class and type, an empty set when the
// list does not depend on the TPM (HMAC), nullopt when the TPM has to be asked.
std::optional<tpm::AlgorithmSet>
known_algorithms(const store::Store& st, int64_t pid, const keys::KeyObjectInput& in)
{
  std::vector<TPM2_ALG_ID> facts;
  switch (in.pub.publicArea.type) {
  case TPM2_ALG_RSA:
    facts = {TPM2_ALG_RSAPSS, TPM2_ALG_SHA384, TPM2_ALG_SHA512};
    break;
  case TPM2_ALG_ECC:
    facts = {TPM2_ALG_SHA384, TPM2_ALG_SHA512};
    break;
  case TPM2_ALG_SYMCIPHER:
    facts = {TPM2_ALG_CBC, TPM2_ALG_CFB, TPM2_ALG_ECB, TPM2_ALG_OFB, TPM2_ALG_CTR};
    break;
  default:
    return tpm::AlgorithmSet{};
  }
  const AttrMap probe = keys::key_objects(in, tpm::AlgorithmSet{facts}).front();
  const auto cls = keys::attr_int(probe, ck::k_class);
  const auto type = keys::attr_int(probe, ck::k_key_type);
  std::set<std::vector<uint64_t>> recorded;
  auto skip = [](const Error&) {};
  for (const Token& t : st.tokens_skipping(skip)) {
    if (t.pid != pid) {
      continue;
    }
    for (const Object& o : st.objects_skipping(t.id, skip)) {
      const std::vector<uint64_t>* list = allowed_mechanisms(o.attrs);
      if (list && keys::attr_int(o.attrs, ck::k_class) == cls
          && keys::attr_int(o.attrs, ck::k_key_type) == type) {
        recorded.insert(*list);
      }
    }
  }
  for (unsigned mask = 0; !recorded.empty() && mask < (1U << facts.size()); ++mask) {
    tpm::AlgorithmSet candidate;
    for (size_t i = 0; i < facts.size(); ++i) {
      if (mask & (1U << i)) {
        candidate.algs.push_back(facts[i]);
      }
    }
    try {
      const std::vector<AttrMap> objects = keys::key_objects(in, candidate);
      const std::vector<uint64_t>* list = allowed_mechanisms(objects.front());
      if (list && recorded.count(*list)) {
        return candidate;
      }
    } catch (const Error&) {
      // e.g. no AES mode at all: not a candidate
    }
  }
  return std::nullopt;
}

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
  // Ask the TPM for its algorithms only when no key in the store already tells.
  std::optional<tpm::AlgorithmSet> algs = known_algorithms(st, t.primary.id, in);
  if (!algs) {
    algs = tpm::get_algorithms(ctx.get());
  }
  std::vector<AttrMap> objects = keys::key_objects(in, *algs);

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
  sub
    ->add_option("--algorithm", opts->algorithm,
                 "rsa1024|rsa2048|rsa3072|rsa4096|aes128|aes256|ecc224|ecc256|ecc384|ecc521|"
                 "hmac:sha1|hmac:sha256|hmac:sha384|hmac:sha512")
    ->required();
  sub->add_option("--key-label", opts->key_label, "label of the key (CKA_LABEL)");
  sub->add_option("--id", opts->id, "CKA_ID text of the key; default 16 random hex characters");
  sub->add_flag("--attr-always-authenticate", opts->always_authenticate,
                "require the PIN again for every use (CKA_ALWAYS_AUTHENTICATE)");
  add_token_auth_options(sub, opts->auth);
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_addkey(*opts, g); });
}

} // namespace ptool::cli
