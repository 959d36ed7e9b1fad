// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool link: adopt keys that already live under the token's primary (TSS2 PEM files
// from tpm2-openssl / tpm2-tss-engine / our export, or tpm2-tools .pub/.priv pairs).
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/token_args.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/tss2_pem.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct LinkOptions
{
  std::vector<std::string> keys;
  std::string label;
  std::optional<std::string> key_label;
  std::optional<std::string> id;
  bool always_authenticate = false;
  TokenAuthOptions auth;
  SecretOption key_auth{"--auth", "TPM2_PTOOL_KEY_AUTH", "key auth"};
  OutputFormat output;
};

Bytes
read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_usage("cannot open key file " + path);
  }
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Blobs
{
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  std::string from;
};

std::vector<Blobs>
read_keys(const LinkOptions& o, const Primary& primary)
{
  std::vector<Blobs> out;
  std::vector<Bytes> files;
  bool all_pem = true;
  for (const std::string& path : o.keys) {
    files.push_back(read_file(path));
    std::string_view text(reinterpret_cast<const char*>(files.back().data()), files.back().size());
    all_pem = all_pem && keys::is_tss2_pem(text);
  }
  if (all_pem) {
    const uint32_t expected = keys::tss2_parent(primary);
    for (size_t i = 0; i < files.size(); ++i) {
      std::string_view text(reinterpret_cast<const char*>(files[i].data()), files[i].size());
      keys::Tss2Key k = keys::decode_tss2_pem(text);
      bool ok = k.parent == expected || (primary.transient && k.parent == 0);
      if (!ok) {
        throw_usage(o.keys[i] + ": parent " + hex32(k.parent) + " is not the token's primary ("
                      + hex32(expected) + ")",
                    "link the key into a token whose primary is its parent");
      }
      out.push_back({tpm::unmarshal_public(k.pub), tpm::unmarshal_private(k.priv), o.keys[i]});
    }
    return out;
  }
  if (files.size() != 2) {
    throw_usage("give TSS2 PRIVATE KEY PEM files, or exactly one .pub and one .priv blob file");
  }
  // tpm2-tools blobs carry no type marker: whichever parses as TPM2B_PUBLIC is the public.
  for (int first : {0, 1}) {
    try {
      out.push_back({tpm::unmarshal_public(files[first]), tpm::unmarshal_private(files[1 - first]),
                     o.keys[first]});
      return out;
    } catch (const Error&) {
      out.clear();
    }
  }
  throw_usage("neither file is a TSS2 PEM or a pair of TPM2B_PUBLIC/TPM2B_PRIVATE blobs");
}

void
run_link(const LinkOptions& o, const GlobalOptions& g)
{
  if (o.id && o.id->empty()) {
    throw_usage("--id must not be empty");
  }
  store::Store st = open_store(g, store::Store::Mode::k_existing);
  TokenForKeys t = resolve_token_for_keys(st, o.label, o.auth);
  std::vector<Blobs> keys = read_keys(o, t.primary);
  if (keys.size() > 1 && o.id) {
    throw_usage("--id names one key; link several keys without it");
  }
  SecureBytes key_auth = read_secret(o.key_auth, Prompt::k_never, "");

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  // The TPM's algorithms from the store's keys where it tells, else one GetCapability.
  std::optional<tpm::AlgorithmSet> known = tpm::AlgorithmSet{};
  for (const Blobs& b : keys) {
    std::optional<tpm::AlgorithmSet> k = known_algorithms(st, t.primary.id, b.pub.publicArea.type);
    if (!k) {
      known.reset();
      break;
    }
    known->algs.insert(known->algs.end(), k->algs.begin(), k->algs.end());
  }
  tpm::AlgorithmSet algs = known ? *known : tpm::get_algorithms(ctx.get());
  tpm::PrimaryContext pc(ctx.get(), t.primary, t.hierarchy_auth);
  SecureBytes wrapping = token::unseal_wrapping_key(pc, t.chosen_seal(), t.pin.pin);
  std::vector<std::vector<AttrMap>> all;
  std::vector<Bytes> ids;
  for (const Blobs& b : keys) {
    try {
      // Proves the primary is the key's parent; the last Load ends the session.
      pc.load(b.pub, b.priv, &b == &keys.back());
    } catch (const Error& e) {
      throw Error(e.reason(),
                  b.from + ": the key does not load under the token's primary (" + e.what() + ")",
                  "the key was created under another parent or another TPM");
    }
    keys::KeyObjectInput in;
    in.pub = b.pub;
    in.priv = b.priv;
    in.wrapped_auth = crypto::wrap_auth(wrapping, key_auth);
    keys::set_identity(in, o.id, o.key_label, o.always_authenticate);
    all.push_back(keys::key_objects(in, algs));
    ids.push_back(in.id);
  }

  std::vector<AttrMap> flat;
  for (const auto& objects : all) {
    flat.insert(flat.end(), objects.begin(), objects.end());
  }
  store_key_objects(st, t, flat);

  // YAML: upstream's one report per key, back to back; JSON: an array of them.
  std::vector<YamlNode> reports;
  for (size_t i = 0; i < all.size(); ++i) {
    reports.push_back(key_report("link", to_hex(ids[i]), all[i].size() > 1));
  }
  if (o.output.json()) {
    print_document(YamlNode::seq(std::move(reports)), o.output);
    return;
  }
  for (const YamlNode& r : reports) {
    print_document(r, o.output, "");
  }
}

} // namespace

void
add_link(CLI::App& app, const GlobalOptions& g)
{
  auto opts = std::make_shared<LinkOptions>();
  CLI::App* sub = app.add_subcommand("link", "Adopt existing TPM keys (TSS2 PEM, tpm2-tools "
                                             "blobs) into a token");
  sub->footer("Example: openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 "
              "-out k.pem\n         tpm2-ptool link --label ssh --key-label k k.pem");
  complete_as(
    sub->add_option("keys", opts->keys, "TSS2 PEM file(s), or a .pub and a .priv blob file")
      ->required(),
    ValueKind::k_file);
  sub->add_option("--label", opts->label, "label of the token")->required();
  sub->add_option("--key-label", opts->key_label, "label of the key (CKA_LABEL)");
  sub->add_option("--id", opts->id, "CKA_ID text of the key; default 16 random hex characters");
  sub->add_flag("--attr-always-authenticate", opts->always_authenticate,
                "require the PIN again for every use (CKA_ALWAYS_AUTHENTICATE)");
  add_token_auth_options(sub, opts->auth);
  add_secret_option(sub, opts->key_auth, "the key's existing auth value (default empty)");
  add_output_option(sub, opts->output);
  sub->callback([opts, &g]() { run_link(*opts, g); });
}

} // namespace ptool::cli
