// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/sign.hpp"

#include <algorithm>
#include <cstring>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::tpm {

namespace {

TPM2B_DIGEST
to_digest(std::span<const uint8_t> digest)
{
  TPM2B_DIGEST out{};
  if (digest.size() > sizeof(out.buffer)) {
    throw Error(ExitCode::k_usage, "digest is longer than the TPM accepts");
  }
  out.size = static_cast<UINT16>(digest.size());
  if (!digest.empty()) {
    std::memcpy(out.buffer, digest.data(), digest.size());
  }
  return out;
}

// An unrestricted key needs no real hash-check ticket: a NULL ticket says "not from
// TPM2_Hash", which the TPM accepts for keys without the restricted attribute.
TPMT_TK_HASHCHECK
null_ticket()
{
  TPMT_TK_HASHCHECK t{};
  t.tag = TPM2_ST_HASHCHECK;
  t.hierarchy = TPM2_RH_NULL;
  return t;
}

EsysPtr<TPMT_SIGNATURE>
tpm_sign(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, const TPMT_SIG_SCHEME& scheme,
         std::span<const uint8_t> digest)
{
  TPM2B_DIGEST d = to_digest(digest);
  TPMT_TK_HASHCHECK ticket = null_ticket();
  TPMT_SIGNATURE* sig = nullptr;
  session.use_for(false, false);
  TSS2_RC rc =
    Esys_Sign(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &ticket, &sig);
  EsysPtr<TPMT_SIGNATURE> owned(sig);
  check_rc(rc, "TPM2_Sign");
  return owned;
}

void
append_padded(Bytes& out, const TPM2B_ECC_PARAMETER& v, size_t width)
{
  // The TPM may return a coordinate shorter than the field (leading zeros dropped).
  if (v.size > width) {
    throw Error(ExitCode::k_general, "the TPM returned an ECDSA value longer than the curve");
  }
  out.insert(out.end(), width - v.size, 0);
  out.insert(out.end(), v.buffer, v.buffer + v.size);
}

} // namespace

TPM2_ALG_ID
hash_by_digest_size(size_t size)
{
  switch (size) {
  case 20:
    return TPM2_ALG_SHA1;
  case 32:
    return TPM2_ALG_SHA256;
  case 48:
    return TPM2_ALG_SHA384;
  case 64:
    return TPM2_ALG_SHA512;
  default:
    return TPM2_ALG_NULL;
  }
}

Bytes
sign_ecdsa(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID hash,
           std::span<const uint8_t> digest, size_t field_bytes)
{
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = hash;
  auto sig = tpm_sign(ctx, key, session, scheme, digest);
  Bytes out;
  out.reserve(2 * field_bytes);
  append_padded(out, sig->signature.ecdsa.signatureR, field_bytes);
  append_padded(out, sig->signature.ecdsa.signatureS, field_bytes);
  return out;
}

Bytes
sign_rsa(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID scheme_alg, TPM2_ALG_ID hash,
         std::span<const uint8_t> digest)
{
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = scheme_alg;
  scheme.details.any.hashAlg = hash;
  auto sig = tpm_sign(ctx, key, session, scheme, digest);
  const TPM2B_PUBLIC_KEY_RSA& s = sig->signature.rsassa.sig; // rsapss has the same layout
  return Bytes(s.buffer, s.buffer + s.size);
}

SecureBytes
rsa_decrypt(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID scheme_alg,
            TPM2_ALG_ID hash, std::span<const uint8_t> in, std::span<const uint8_t> label)
{
  TPM2B_PUBLIC_KEY_RSA cipher{};
  if (in.size() > sizeof(cipher.buffer)) {
    throw Error(ExitCode::k_usage, "RSA input is longer than the TPM accepts");
  }
  cipher.size = static_cast<UINT16>(in.size());
  if (!in.empty()) {
    std::memcpy(cipher.buffer, in.data(), in.size());
  }
  TPMT_RSA_DECRYPT scheme{};
  scheme.scheme = scheme_alg;
  if (scheme_alg == TPM2_ALG_OAEP) {
    scheme.details.oaep.hashAlg = hash;
  }
  TPM2B_DATA lab{};
  if (label.size() > sizeof(lab.buffer)) {
    throw Error(ExitCode::k_usage, "OAEP label is longer than the TPM accepts");
  }
  lab.size = static_cast<UINT16>(label.size());
  if (!label.empty()) {
    std::memcpy(lab.buffer, label.data(), label.size());
  }
  TPM2B_PUBLIC_KEY_RSA* out = nullptr;
  session.use_for(false, true);
  TSS2_RC rc = Esys_RSA_Decrypt(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &cipher,
                                &scheme, &lab, &out);
  EsysPtr<TPM2B_PUBLIC_KEY_RSA> owned(out);
  session.use_for(false, false);
  check_rc(rc, "TPM2_RSA_Decrypt");
  SecureBytes plain(out->buffer, out->buffer + out->size);
  OPENSSL_cleanse(out, sizeof(*out));
  return plain;
}

Bytes
get_random(ESYS_CONTEXT* ctx, size_t n)
{
  Bytes out;
  out.reserve(n);
  while (out.size() < n) {
    auto want = static_cast<UINT16>(std::min<size_t>(n - out.size(), 32));
    TPM2B_DIGEST* r = nullptr;
    TSS2_RC rc = Esys_GetRandom(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, want, &r);
    EsysPtr<TPM2B_DIGEST> owned(r);
    check_rc(rc, "TPM2_GetRandom");
    if (r->size == 0) {
      throw Error(ExitCode::k_general, "TPM2_GetRandom returned no bytes");
    }
    out.insert(out.end(), r->buffer, r->buffer + r->size);
  }
  out.resize(n);
  return out;
}

} // namespace ptool::tpm
