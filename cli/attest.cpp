// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool attest: prove to a verifier (an SSH CA) that a key was generated in this TPM and
// cannot leave it. Device: enroll, activate, key. Verifier: challenge, accept, verify. The
// trust model and the documents are in docs/attestation.md; the work is in core/attest/.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/output_file.hpp"
#include "cli/token_args.hpp"
#include "core/attest/ak_cert.hpp"
#include "core/attest/device.hpp"
#include "core/attest/flows.hpp"
#include "core/crypto/crypto.hpp"
#include "core/attest/verifier.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/token/seals.hpp"

namespace ptool::cli {

namespace {

struct AttestOptions
{
  std::string input;                // the document each step reads
  std::optional<std::string> ek_ca; // challenge
  std::optional<std::string> state; // challenge (written), accept (read)
  std::optional<std::string> issue_ak_cert;
  std::optional<std::string> ca_cert;
  std::optional<std::string> label; // key
  std::optional<std::string> key_label;
  std::optional<std::string> nonce; // key, verify
  std::optional<std::string> ak_cert;
  std::optional<std::string> device;   // verify
  std::optional<std::string> ek_index; // enroll
  bool force = false;
  TokenAuthOptions auth;
  SecretOption endorsement_auth{"--endorsement-auth", "TPM2_PTOOL_ENDORSEMENT_AUTH",
                                "endorsement hierarchy auth"};
  SecretOption ca_key_pass{"--ca-key-pass", "TPM2_PTOOL_CA_KEY_PASS",
                           "passphrase of the --issue-ak-cert key"};
  OutputFormat output;
};

Bytes
read_input(const std::string& path, const char* what)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_not_found(std::string("cannot read ") + what + " " + path);
  }
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

attest::Doc
read_doc(const std::string& path, const char* type)
{
  Bytes text = read_input(path, "document");
  return attest::Doc::parse(to_string(text), path, type);
}

Bytes
parse_nonce(const std::optional<std::string>& hex)
{
  auto nonce = hex ? from_hex(*hex) : std::nullopt;
  if (!nonce || nonce->size() < 8 || nonce->size() > 64) {
    throw_usage("--nonce must be 8 to 64 bytes in hex", "e.g. --nonce $(openssl rand -hex 16)");
  }
  return *nonce;
}

void
print(const attest::Doc& doc)
{
  std::cout << doc.json() << std::flush;
}

// The endorsement hierarchy's auth: from --endorsement-auth-file / $TPM2_PTOOL_ENDORSEMENT_AUTH
// when given; otherwise empty, unless the TPM says the hierarchy has an auth, which is then
// asked for on the terminal (and a usage error without one).
SecureBytes
endorsement_auth(ESYS_CONTEXT* ctx, const SecretOption& opt)
{
  if (opt.given()) {
    return read_secret(opt, Prompt::k_existing);
  }
  if (attest::endorsement_auth_set(ctx)) {
    return read_secret(opt, Prompt::k_existing);
  }
  return {};
}

std::optional<uint32_t>
parse_ek_index(const std::optional<std::string>& text)
{
  if (!text) {
    return std::nullopt;
  }
  const std::string& t = *text;
  auto digits =
    from_hex(t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') ? t.substr(2) : t);
  if (!digits || digits->empty() || digits->size() > 4) {
    throw_usage("--ek-index must be an NV index in hex, e.g. 0x01c00016");
  }
  uint32_t v = 0;
  for (uint8_t b : *digits) {
    v = v << 8 | b;
  }
  return v;
}

void
run_enroll(const AttestOptions& o, const GlobalOptions& g)
{
  std::optional<uint32_t> index = parse_ek_index(o.ek_index);
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  SecureBytes auth = endorsement_auth(ctx.get(), o.endorsement_auth);
  print(attest::enroll(ctx.get(), auth, index));
}

void
run_challenge(const AttestOptions& o)
{
  attest::Doc enroll = read_doc(o.input, attest::k_type_enroll);
  Bytes roots = read_input(*o.ek_ca, "--ek-ca");
  attest::Challenge c = attest::make_challenge(enroll, roots);
  std::string state = o.state.value_or("attest-" + c.state.get("challenge_id") + ".state");
  check_output_free(state, o.force);
  write_private_file(state, c.state.json(), o.force);
  std::cerr << "tpm2-ptool: verifier state (secret, keep private): " << state << "\n";
  print(c.challenge);
}

void
run_activate(const AttestOptions& o, const GlobalOptions& g)
{
  attest::Doc challenge = read_doc(o.input, attest::k_type_challenge);
  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  SecureBytes auth = endorsement_auth(ctx.get(), o.endorsement_auth);
  print(attest::activate(ctx.get(), challenge, auth));
}

void
run_accept(const AttestOptions& o)
{
  if (o.issue_ak_cert.has_value() != o.ca_cert.has_value()) {
    throw_usage("--issue-ak-cert and --ca-cert go together");
  }
  attest::Doc response = read_doc(o.input, attest::k_type_response);
  attest::Doc state = read_doc(*o.state, attest::k_type_state);
  std::optional<SecureBytes> ca_key;
  std::optional<Bytes> ca_cert;
  std::optional<SecureBytes> ca_pass;
  if (o.issue_ak_cert) {
    Bytes key = read_input(*o.issue_ak_cert, "--issue-ak-cert");
    ca_key.emplace(key.begin(), key.end());
    OPENSSL_cleanse(key.data(), key.size());
    ca_cert = read_input(*o.ca_cert, "--ca-cert");
    if (attest::pem_key_is_encrypted(*ca_key)) {
      ca_pass = read_secret(o.ca_key_pass, Prompt::k_existing);
    }
  } else if (o.ca_key_pass.argv_value || o.ca_key_pass.file) {
    throw_usage("--ca-key-pass is only used with --issue-ak-cert");
  }
  attest::Doc record = attest::accept_response(
    state, response, ca_key ? std::optional<std::span<const uint8_t>>(*ca_key) : std::nullopt,
    ca_cert ? std::optional<std::span<const uint8_t>>(*ca_cert) : std::nullopt, ca_pass);
  print(record);
  // A challenge answers once: its secret goes with the state file.
  std::error_code ec;
  std::filesystem::remove(*o.state, ec);
}

// The private key labeled `key_label` in the token and the OpenSSH line of its public object.
std::pair<Object, std::string>
find_key(const store::Store& st, const Token& token, const std::string& key_label)
{
  std::optional<Object> priv;
  std::optional<std::string> line;
  std::vector<Object> objects = st.objects(token.id);
  for (Object& obj : objects) {
    const Bytes* label = keys::attr_bytes(obj.attrs, ck::k_label);
    if (!label || to_string(*label) != key_label) {
      continue;
    }
    auto cls = keys::attr_int(obj.attrs, ck::k_class);
    if (cls == ck::k_o_private_key) {
      priv = std::move(obj);
    } else if (cls == ck::k_o_public_key) {
      line = keys::openssh_public_line(obj.attrs);
    }
  }
  if (!priv) {
    throw_not_found("No private key labeled \"" + key_label + "\" in token \""
                      + token.label.value_or("") + "\"",
                    "list the token's objects with 'tpm2-ptool listobjects --label "
                      + token.label.value_or("") + "'");
  }
  if (!line) {
    throw Error(ExitCode::k_unsupported,
                "key \"" + key_label + "\" has no OpenSSH public key (RSA or EC) to attest");
  }
  return {std::move(*priv), *line};
}

void
run_key(const AttestOptions& o, const GlobalOptions& g)
{
  Bytes nonce = parse_nonce(o.nonce);
  std::optional<Bytes> ak_cert;
  if (o.ak_cert) {
    attest::Doc record = read_doc(*o.ak_cert, attest::k_type_device);
    if (!record.find("ak_certificate")) {
      throw_usage(*o.ak_cert + " has no AK certificate",
                  "the verifier issues one with 'attest accept --issue-ak-cert'");
    }
    ak_cert = record.get_b64("ak_certificate");
  }
  store::Store st = open_store(g, store::Store::Mode::k_read_only);
  TokenForKeys t = resolve_token_for_keys(st, *o.label, o.auth);
  auto [obj, line] = find_key(st, t.token, *o.key_label);
  const Bytes* pub = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
  const Bytes* priv = keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
  if (!pub || !priv || pub->empty() || priv->empty()) {
    throw Error(ExitCode::k_general, "key \"" + *o.key_label + "\" has no TPM blobs");
  }
  const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);

  tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
  tpm::PrimaryContext pc(ctx.get(), t.primary, t.hierarchy_auth);
  SecureBytes key = token::unseal_wrapping_key(pc, t.chosen_seal(), t.pin.pin);
  SecureBytes objauth =
    enc && !enc->empty() ? crypto::unwrap_auth(key, to_string(*enc)) : SecureBytes{};
  SecureBytes eh_auth = endorsement_auth(ctx.get(), o.endorsement_auth);
  print(attest::attest_key(
    pc, tpm::unmarshal_public(*pub), tpm::unmarshal_private(*priv), objauth, line, nonce,
    ak_cert ? std::optional<std::span<const uint8_t>>(*ak_cert) : std::nullopt, eh_auth));
}

void
run_verify(const AttestOptions& o)
{
  Bytes nonce = parse_nonce(o.nonce);
  attest::Doc device = read_doc(*o.device, attest::k_type_device);
  std::optional<attest::Doc> key;
  try {
    key = read_doc(o.input, attest::k_type_key);
  } catch (const Error& e) {
    if (e.code() == ExitCode::k_not_found) {
      throw;
    }
    throw Error(ExitCode::k_attest_failed, std::string("attestation check failed: ") + e.what(),
                e.hint());
  }
  std::string line = attest::verify_key(device, nonce, *key);
  const std::string verdict = "OK: generated in the TPM of EK " + device.get("ek_subject")
                              + " (serial " + device.get("ek_serial")
                              + "), fixedTPM, fixedParent, sensitiveDataOrigin";
  if (o.output.json()) {
    print_document(YamlNode::map({{str("verdict"), str("ok")},
                                  {str("ssh_public_key"), str(line)},
                                  {str("ek_subject"), str(device.get("ek_subject"))},
                                  {str("ek_serial"), str(device.get("ek_serial"))},
                                  {str("ak_name"), str(device.get("ak_name"))}}),
                   o.output);
    return;
  }
  std::cout << line << "\n" << verdict << "\n";
}

CLI::App*
input_arg(CLI::App* sub, AttestOptions& o, const char* what)
{
  sub->add_option("file", o.input, what)->required()->type_name("FILE");
  return sub;
}

void
add_endorsement_auth(CLI::App* sub, AttestOptions& o)
{
  add_secret_option(sub, o.endorsement_auth,
                    "endorsement hierarchy auth, when one is set (prompted on a terminal; "
                    "default empty)");
}

} // namespace

void
add_attest(CLI::App& app, const GlobalOptions& g)
{
  CLI::App* top = app.add_subcommand(
    "attest", "Key attestation: prove to a verifier (an SSH CA) that a key was generated in "
              "this TPM and cannot leave it");
  top->require_subcommand(1);
  top->footer(
    "Example: tpm2-ptool attest enroll > enroll.json   (device; then the verifier runs\n"
    "         tpm2-ptool attest challenge --ek-ca roots.pem enroll.json > challenge.json)\n"
    "Device: enroll, activate, key; verifier: challenge, accept, verify. See "
    "docs/attestation.md.");

  auto o = std::make_shared<AttestOptions>();
  CLI::App* sub = top->add_subcommand("enroll", "Device: print the EK certificate, EK and AK "
                                                "(enroll.json)");
  sub
    ->add_option("--ek-index", o->ek_index,
                 "use the EK certificate at this NV index (default: the first of 0x01c00002, "
                 "0x01c0000a, 0x01c00012..0x01c0001e whose EK matches)")
    ->type_name("HEX");
  add_endorsement_auth(sub, *o);
  sub->callback([o, &g]() { run_enroll(*o, g); });

  sub = top->add_subcommand("challenge", "Verifier: check enroll.json and print a credential "
                                         "challenge for its AK");
  input_arg(sub, *o, "enroll.json from the device");
  sub->add_option("--ek-ca", o->ek_ca, "PEM file of trusted EK CA certificates")
    ->required()
    ->type_name("FILE");
  sub->add_option("--state", o->state, "where to keep the secret (default attest-ID.state)")
    ->type_name("FILE");
  sub->add_flag("--force", o->force, "replace an existing state file");
  sub->callback([o]() { run_challenge(*o); });

  sub = top->add_subcommand("activate", "Device: answer challenge.json with "
                                        "TPM2_ActivateCredential (response.json)");
  input_arg(sub, *o, "challenge.json from the verifier");
  add_endorsement_auth(sub, *o);
  sub->callback([o, &g]() { run_activate(*o, g); });

  sub = top->add_subcommand("accept", "Verifier: check response.json and print the device "
                                      "record");
  input_arg(sub, *o, "response.json from the device");
  sub->add_option("--state", o->state, "the state file 'attest challenge' wrote")
    ->required()
    ->type_name("FILE");
  sub
    ->add_option("--issue-ak-cert", o->issue_ak_cert,
                 "issue an AK certificate signed with this CA private key (PEM)")
    ->type_name("CA.key");
  sub->add_option("--ca-cert", o->ca_cert, "the certificate of the --issue-ak-cert key (PEM)")
    ->type_name("CA.pem");
  add_secret_option(sub, o->ca_key_pass,
                    "passphrase of an encrypted --issue-ak-cert key (prompted on a terminal)");
  sub->callback([o]() { run_accept(*o); });

  sub = top->add_subcommand("key", "Device: certify a token's key with the AK (key.json)");
  sub->add_option("--label", o->label, "label of the token")->required();
  sub->add_option("--key-label", o->key_label, "label of the key")->required();
  sub->add_option("--nonce", o->nonce, "the verifier's nonce, hex")->required();
  sub
    ->add_option("--ak-cert", o->ak_cert,
                 "device record with an AK certificate: add a WebAuthn \"tpm\" statement")
    ->type_name("RECORD");
  add_token_auth_options(sub, o->auth);
  add_endorsement_auth(sub, *o);
  sub->callback([o, &g]() { run_key(*o, g); });

  sub = top->add_subcommand("verify", "Verifier: check key.json; print the OpenSSH key and a "
                                      "verdict");
  input_arg(sub, *o, "key.json from the device");
  sub->add_option("--device", o->device, "the device record 'attest accept' printed")
    ->required()
    ->type_name("RECORD");
  sub->add_option("--nonce", o->nonce, "the nonce handed out for this key, hex")->required();
  add_output_option(sub, o->output, DefaultOutput::k_text);
  sub->callback([o]() { run_verify(*o); });
}

} // namespace ptool::cli
