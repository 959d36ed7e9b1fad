// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/verifier.hpp"

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "core/attest/ak_cert.hpp"
#include "core/attest/credential.hpp"
#include "core/attest/device.hpp"
#include "core/attest/public.hpp"
#include "core/attest/webauthn.hpp"
#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::attest {

namespace {

using X509Ptr = CHandle<X509, X509_free>;
using X509Store = CHandle<X509_STORE, X509_STORE_free>;
using X509StoreCtx = CHandle<X509_STORE_CTX, X509_STORE_CTX_free>;

constexpr size_t k_credential_bytes = 32;

[[noreturn]] void
fail(const std::string& check, const std::string& hint = {})
{
  throw Error(ExitCode::k_attest_failed, "attestation check failed: " + check, hint);
}

// Public areas must be the documented template with only `unique` free: the name then
// proves the key's type, attributes and policy.
bool
is_template(TPMT_PUBLIC pub, TPMT_PUBLIC tmpl)
{
  pub.unique = {};
  tmpl.unique = {};
  return marshal_tpmt_public(pub) == marshal_tpmt_public(tmpl);
}

X509Ptr
parse_der(std::span<const uint8_t> der, const std::string& what)
{
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    fail(what + " is not a DER X.509 certificate");
  }
  return cert;
}

void
check_chain(X509* cert, std::span<const uint8_t> roots_pem)
{
  X509Store store(X509_STORE_new());
  Bio bio(BIO_new_mem_buf(roots_pem.data(), static_cast<int>(roots_pem.size())));
  size_t n = 0;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509Ptr owned(c);
    X509_STORE_add_cert(store.get(), c);
    ++n;
  }
  if (n == 0) {
    throw Error(ExitCode::k_usage, "--ek-ca holds no PEM certificate",
                "give the TPM vendor's EK root (and intermediate) CA certificates");
  }
  // TPM vendors' EK certificates carry TCG extensions OpenSSL does not know (critical
  // SAN directoryName is known; subjectDirectoryAttributes is not critical).
  X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL could not set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    fail(std::string("the EK certificate does not chain to the given roots (")
           + X509_verify_cert_error_string(err) + ")",
         "pass the TPM vendor's EK CA certificates with --ek-ca");
  }
}

std::string
name_text(X509_NAME* name)
{
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string
serial_hex(X509* cert)
{
  const ASN1_INTEGER* s = X509_get0_serialNumber(cert);
  Bignum bn(ASN1_INTEGER_to_BN(s, nullptr));
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex ? hex : "");
  OPENSSL_free(hex);
  return out;
}

bool
equal_ct(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace

Bytes
activation_proof(std::span<const uint8_t> credential, std::span<const uint8_t> ak_name)
{
  static const std::string_view k_label = "tpm2-ptool attest activate";
  Bytes msg(k_label.begin(), k_label.end());
  msg.insert(msg.end(), ak_name.begin(), ak_name.end());
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), credential.data(), static_cast<int>(credential.size()), msg.data(),
            msg.size(), out.data(), &n)) {
    throw Error(ExitCode::k_general, "OpenSSL HMAC failed");
  }
  out.resize(n);
  return out;
}

Bytes
key_qualifying_data(std::span<const uint8_t> nonce, std::span<const uint8_t> ssh_blob)
{
  Bytes data(nonce.begin(), nonce.end());
  data.insert(data.end(), ssh_blob.begin(), ssh_blob.end());
  return crypto::sha256(data);
}

Challenge
make_challenge(const Doc& enroll, std::span<const uint8_t> roots_pem)
{
  const std::string& tmpl_name = enroll.get("ek_template");
  TPMT_PUBLIC tmpl{};
  try {
    tmpl = ek_template(tmpl_name);
  } catch (const Error& e) {
    fail(std::string("ek_template: ") + e.what());
  }
  Bytes cert_der = enroll.get_b64("ek_certificate");
  X509Ptr cert = parse_der(cert_der, "ek_certificate");
  check_chain(cert.get(), roots_pem);

  TPMT_PUBLIC ek = unmarshal_tpmt_public(enroll.get_b64("ek_public"), "ek_public");
  if (!is_template(ek, tmpl)) {
    fail("ek_public is not the TCG EK template " + tmpl_name);
  }
  EvpPkey ek_key = public_key(ek);
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), ek_key.get()) != 1) {
    fail("ek_public is not the key of the EK certificate");
  }
  Bytes ak_area = enroll.get_b64("ak_public");
  TPMT_PUBLIC ak = unmarshal_tpmt_public(ak_area, "ak_public");
  if (!is_template(ak, ak_template())) {
    fail("ak_public is not the tpm2-ptool AK template (restricted ECC P-256 signing key)");
  }
  public_key(ak); // the point must be on the curve
  Bytes ak_name = tpm_name(ak);

  SecureBytes credential = crypto::random_bytes(k_credential_bytes);
  MadeCredential made = make_credential(ek, ak_name, credential);
  SecureBytes nonce = crypto::random_bytes(16);
  Challenge out;
  std::string id = to_hex(nonce);
  out.challenge.set("challenge_id", id);
  out.challenge.set("ek_template", tmpl_name);
  out.challenge.set_b64("credential_blob", made.id_object);
  out.challenge.set_b64("encrypted_secret", made.encrypted_secret);
  out.state.set("challenge_id", id);
  out.state.set_b64("credential", credential);
  out.state.set_b64("ek_certificate", cert_der);
  out.state.set_b64("ak_public", ak_area);
  return out;
}

Doc
accept_response(const Doc& state, const Doc& response,
                std::optional<std::span<const uint8_t>> ca_key_pem,
                std::optional<std::span<const uint8_t>> ca_cert_pem,
                const std::optional<SecureBytes>& ca_key_pass)
{
  if (response.get("challenge_id") != state.get("challenge_id")) {
    fail("the response answers another challenge (challenge_id differs)",
         "give the state file written by the 'attest challenge' this response answers");
  }
  Bytes ak_area = state.get_b64("ak_public");
  TPMT_PUBLIC ak = unmarshal_tpmt_public(ak_area, "ak_public");
  Bytes ak_name = tpm_name(ak);
  Bytes credential = state.get_b64("credential");
  Bytes expected = activation_proof(credential, ak_name);
  OPENSSL_cleanse(credential.data(), credential.size());
  if (!equal_ct(expected, response.get_b64("proof"))) {
    fail("the activation proof is wrong: the AK is not in the TPM that owns this EK",
         "enroll again; the response must come from 'attest activate' on the enrolled device");
  }
  Bytes cert_der = state.get_b64("ek_certificate");
  X509Ptr cert = parse_der(cert_der, "ek_certificate");
  Doc record(k_type_device);
  record.set("ek_subject", name_text(X509_get_subject_name(cert.get())));
  record.set("ek_issuer", name_text(X509_get_issuer_name(cert.get())));
  record.set("ek_serial", serial_hex(cert.get()));
  record.set_b64("ek_certificate", cert_der);
  record.set_b64("ak_public", ak_area);
  record.set("ak_name", to_hex(ak_name));
  if (ca_key_pem && ca_cert_pem) {
    record.set_b64("ak_certificate",
                   issue_ak_certificate(ak, cert.get(), *ca_key_pem, *ca_cert_pem, ca_key_pass));
  }
  return record;
}

std::string
verify_key(const Doc& device, std::span<const uint8_t> nonce, const Doc& key)
{
  TPMT_PUBLIC ak =
    unmarshal_tpmt_public(device.get_b64("ak_public"), "the device record's ak_public");
  EvpPkey ak_key = public_key(ak);
  Bytes ak_name = tpm_name(ak);

  // 1. The key as OpenSSH sees it, and its TPM public area.
  auto b64_or_fail = [&](const char* field) {
    auto v = key.find(field);
    if (!v) {
      fail(std::string("key attestation has no field \"") + field + "\"");
    }
    auto b = base64_decode(*v);
    if (!b) {
      fail(std::string("key attestation field \"") + field + "\" is not base64");
    }
    return *b;
  };
  std::string line = key.find("ssh_public_key").value_or("");
  size_t sp = line.find(' ');
  auto ssh_blob = sp == std::string::npos ? std::nullopt : base64_decode(line.substr(sp + 1));
  if (!ssh_blob) {
    fail("ssh_public_key is not an OpenSSH public key (\"TYPE BASE64\")");
  }
  Bytes area = b64_or_fail("pub_area");
  TPMT_PUBLIC pub{};
  try {
    pub = unmarshal_tpmt_public(area, "pub_area");
  } catch (const Error&) {
    fail("pub_area is not a TPM public area (TPMT_PUBLIC)");
  }
  Bytes blob_from_area;
  try {
    blob_from_area = openssh_blob(pub);
  } catch (const Error&) {
    fail("pub_area is not a key OpenSSH can use");
  }
  // 2. The AK's signature over certInfo.
  Bytes cert_info = b64_or_fail("cert_info");
  Bytes sig_bytes = b64_or_fail("signature");
  TPMT_SIGNATURE sig{};
  size_t off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig_bytes.data(), sig_bytes.size(), &off, &sig)
        != TSS2_RC_SUCCESS
      || off != sig_bytes.size() || sig.sigAlg != TPM2_ALG_ECDSA
      || sig.signature.ecdsa.hash != TPM2_ALG_SHA256) {
    fail("signature is not an ECDSA-SHA256 TPMT_SIGNATURE");
  }
  Bytes der = ecdsa_der(sig.signature.ecdsa);
  if (!verify_es256(ak_key.get(), cert_info, der)) {
    fail("the signature over cert_info does not verify with the enrolled AK",
         "the key was attested by another TPM or the document was altered");
  }

  // 3. What the TPM certified.
  TPMS_ATTEST attest{};
  off = 0;
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(cert_info.data(), cert_info.size(), &off, &attest)
        != TSS2_RC_SUCCESS
      || off != cert_info.size()) {
    fail("cert_info is not a TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE || attest.type != TPM2_ST_ATTEST_CERTIFY) {
    fail("cert_info is not a TPM-generated certification (magic/type)");
  }
  const auto& certified = attest.attested.certify.name;
  if (!equal_ct(std::span(certified.name, certified.size), tpm_name(pub))) {
    fail("the certified name is not the name of pub_area: the TPM certified another key");
  }
  const size_t type_len = static_cast<size_t>(blob_from_area[2]) << 8 | blob_from_area[3];
  std::string type_in_blob(blob_from_area.begin() + 4,
                           blob_from_area.begin() + 4 + static_cast<long>(type_len));
  if (*ssh_blob != blob_from_area || line.substr(0, sp) != type_in_blob) {
    fail("ssh_public_key is not the key of pub_area");
  }
  if (!equal_ct(std::span(attest.extraData.buffer, attest.extraData.size),
                key_qualifying_data(nonce, *ssh_blob))) {
    fail("cert_info's extraData is not SHA-256(nonce || key): wrong nonce or a replayed "
         "attestation",
         "give the nonce you handed out for this key");
  }

  // 4. The WebAuthn statement, when present, must say the same.
  if (key.find("webauthn_att_stmt")) {
    check_webauthn_statement(b64_or_fail("webauthn_att_stmt"), cert_info, area, ak_key.get(),
                             device.find("ak_certificate"));
  }
  for (const auto& [k, v] : key.fields()) {
    if (k != "type" && k != "version" && k != "ssh_public_key" && k != "pub_area"
        && k != "cert_info" && k != "signature" && k != "webauthn_att_stmt") {
      fail("key attestation has an unknown field \"" + k + "\"");
    }
  }

  // 5. The key's properties.
  std::string missing;
  const TPMA_OBJECT a = pub.objectAttributes;
  if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN)) {
    missing += " sensitiveDataOrigin (the key was imported, not generated in the TPM)";
  }
  if (!(a & TPMA_OBJECT_FIXEDTPM)) {
    missing += " fixedTPM (the key can be duplicated out of this TPM)";
  }
  if (!(a & TPMA_OBJECT_FIXEDPARENT)) {
    missing += " fixedParent (the key can be duplicated to another parent)";
  }
  if (!missing.empty()) {
    throw Error(ExitCode::k_attest_policy, "attested key lacks" + missing,
                "only keys made with 'tpm2-ptool addkey' on this TPM pass");
  }
  return line;
}

} // namespace ptool::attest
