// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/ak_cert.hpp"

#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/attest/public.hpp"
#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::attest {

namespace {

using X509Ptr = CHandle<X509, X509_free>;
using X509Ext = CHandle<X509_EXTENSION, X509_EXTENSION_free>;
using EcdsaSig = CHandle<ECDSA_SIG, ECDSA_SIG_free>;
using DecoderCtx = CHandle<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;

[[noreturn]] void
cert_failed(const char* what)
{
  throw Error(ExitCode::k_general,
              std::string("OpenSSL failed while issuing the AK certificate: ") + what);
}

void
add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value)
{
  X509Ext ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    cert_failed(value);
  }
}

} // namespace

bool
pem_key_is_encrypted(std::span<const uint8_t> pem)
{
  std::string_view text(reinterpret_cast<const char*>(pem.data()), pem.size());
  return text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos
         || text.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

Bytes
issue_ak_certificate(const TPMT_PUBLIC& ak, X509* ek_cert, std::span<const uint8_t> ca_key_pem,
                     std::span<const uint8_t> ca_cert_pem,
                     const std::optional<SecureBytes>& ca_key_pass)
{
  const bool encrypted = pem_key_is_encrypted(ca_key_pem);
  if (encrypted && !ca_key_pass) {
    throw Error(ExitCode::k_auth, "the --issue-ak-cert key is encrypted",
                "give its passphrase with --ca-key-pass-file FILE or $TPM2_PTOOL_CA_KEY_PASS");
  }
  EVP_PKEY* raw = nullptr;
  DecoderCtx dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr,
                                                OSSL_KEYMGMT_SELECT_PRIVATE_KEY, nullptr, nullptr));
  if (!dctx) {
    cert_failed("no PEM key decoder");
  }
  // Always a passphrase (empty for a plain key), so OpenSSL never prompts by itself.
  static const uint8_t k_empty[1] = {0};
  const bool have_pass = ca_key_pass && !ca_key_pass->empty();
  OSSL_DECODER_CTX_set_passphrase(dctx.get(), have_pass ? ca_key_pass->data() : k_empty,
                                  have_pass ? ca_key_pass->size() : 0);
  const unsigned char* data = ca_key_pem.data();
  size_t key_len = ca_key_pem.size();
  const int ok = OSSL_DECODER_from_data(dctx.get(), &data, &key_len);
  EvpPkey ca_key(raw);
  ERR_clear_error();
  if (ok != 1 || !ca_key) {
    if (encrypted) {
      throw Error(ExitCode::k_auth, "cannot decrypt the --issue-ak-cert key: wrong passphrase",
                  "give the CA key's passphrase with --ca-key-pass-file FILE or "
                  "$TPM2_PTOOL_CA_KEY_PASS");
    }
    throw Error(ExitCode::k_usage, "--issue-ak-cert is not a PEM private key");
  }
  Bio cb(BIO_new_mem_buf(ca_cert_pem.data(), static_cast<int>(ca_cert_pem.size())));
  X509Ptr ca(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!ca) {
    throw Error(ExitCode::k_usage, "--ca-cert is not a PEM certificate");
  }
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    throw Error(ExitCode::k_usage, "--issue-ak-cert is not the key of --ca-cert");
  }
  int san_at = X509_get_ext_by_NID(ek_cert, NID_subject_alt_name, -1);
  if (san_at < 0) {
    throw Error(ExitCode::k_unsupported,
                "the EK certificate has no subjectAltName with the TPM manufacturer, model and "
                "version, which the WebAuthn AK certificate must carry");
  }

  X509Ptr cert(X509_new());
  EvpPkey ak_key = public_key(ak);
  uint8_t serial[16];
  if (!cert || RAND_bytes(serial, sizeof(serial)) != 1) {
    cert_failed("setup");
  }
  serial[0] &= 0x7f; // positive
  Bignum bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  X509_NAME* empty = X509_NAME_new();
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1
      || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))
      || X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1
      || X509_set_subject_name(cert.get(), empty) != 1
      || !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60)
      || !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600)
      || X509_set_pubkey(cert.get(), ak_key.get()) != 1) {
    X509_NAME_free(empty);
    cert_failed("fields");
  }
  X509_NAME_free(empty);
  // The EK certificate's SAN (TCG directoryName with 2.23.133.2.1/2/3), critical because the
  // subject is empty (RFC 5280 §4.2.1.6).
  X509_EXTENSION* san = X509_get_ext(ek_cert, san_at);
  X509Ext san_copy(X509_EXTENSION_dup(san));
  if (!san_copy || X509_EXTENSION_set_critical(san_copy.get(), 1) != 1
      || X509_add_ext(cert.get(), san_copy.get(), -1) != 1) {
    cert_failed("subjectAltName");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.get(), cert.get(), nullptr, nullptr, 0);
  add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), &ctx, NID_ext_key_usage, "2.23.133.8.3");
  add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    cert_failed("signature");
  }
  int len = i2d_X509(cert.get(), nullptr);
  Bytes der(static_cast<size_t>(len > 0 ? len : 0));
  unsigned char* p = der.data();
  if (len <= 0 || i2d_X509(cert.get(), &p) != len) {
    cert_failed("DER");
  }
  return der;
}

Bytes
ecdsa_der(const TPMS_SIGNATURE_ECDSA& sig)
{
  EcdsaSig s(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(sig.signatureR.buffer, sig.signatureR.size, nullptr);
  BIGNUM* ss = BN_bin2bn(sig.signatureS.buffer, sig.signatureS.size, nullptr);
  if (!s || !r || !ss || ECDSA_SIG_set0(s.get(), r, ss) != 1) {
    BN_free(r);
    BN_free(ss);
    throw Error(ExitCode::k_general, "OpenSSL failed to encode an ECDSA signature");
  }
  int len = i2d_ECDSA_SIG(s.get(), nullptr);
  Bytes der(static_cast<size_t>(len > 0 ? len : 0));
  unsigned char* p = der.data();
  if (len <= 0 || i2d_ECDSA_SIG(s.get(), &p) != len) {
    throw Error(ExitCode::k_general, "OpenSSL failed to encode an ECDSA signature");
  }
  return der;
}

bool
verify_es256(EVP_PKEY* key, std::span<const uint8_t> data, std::span<const uint8_t> der_sig)
{
  EvpMdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1
         && EVP_DigestVerify(ctx.get(), der_sig.data(), der_sig.size(), data.data(), data.size())
              == 1;
}

} // namespace ptool::attest
