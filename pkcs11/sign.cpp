// SPDX-License-Identifier: BSD-2-Clause
// C_Sign* (in the TPM) and C_Verify* (in software from the public attributes; HMAC in the
// TPM).
#include <algorithm>
#include <cstring>
#include <optional>

#include <openssl/crypto.h>

#include "core/crypto/pk.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/tpm/sign.hpp"
#include "core/tpm/symmetric.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/key_use.hpp"

namespace ptool::p11 {

namespace {

using Family = Mechanism::Family;

Bytes
to_be_signed(const Operation& op, std::span<const uint8_t> data)
{
  if (op.mech->md.empty()) {
    return Bytes(data.begin(), data.end());
  }
  return crypto::digest(op.mech->md, data);
}

// Raw CKM_ECDSA input as a digest the TPM accepts: a hash-sized value is used as is; other
// lengths become the curve size (leftmost bytes, or left zero padding — the same integer).
Bytes
ecdsa_digest(Bytes tbs, size_t field)
{
  if (tpm::hash_by_digest_size(tbs.size()) != TPM2_ALG_NULL) {
    return tbs;
  }
  size_t want = tpm::hash_by_digest_size(field) != TPM2_ALG_NULL ? field : 64;
  if (tbs.size() > want) {
    if (tbs.size() > field) {
      tbs.resize(field);
    }
    if (tbs.size() > want) {
      fail(CKR_DATA_LEN_RANGE);
    }
  }
  tbs.insert(tbs.begin(), want - tbs.size(), 0);
  return tbs;
}

// Pads a raw RSA result to the modulus size (the TPM may drop leading zeros).
Bytes
modulus_sized(const SecureBytes& raw, size_t k)
{
  Bytes out(k > raw.size() ? k - raw.size() : 0, 0);
  out.insert(out.end(), raw.begin(), raw.end());
  return out;
}

Bytes
tpm_signature(Module& m, Session& s, const Object& obj, const TpmKeyFacts& facts,
              std::span<const uint8_t> data)
{
  const Operation& op = s.op;
  TokenState& ts = m.token(s.slot);
  ESYS_TR key = m.load_key(ts, obj);
  ESYS_CONTEXT* ctx = ts.esys->get();
  tpm::Session& session = ts.pc->session();
  Bytes tbs = to_be_signed(op, data);
  switch (op.mech->family) {
  case Family::k_ecdsa: {
    size_t field = facts.field_bytes;
    Bytes d = ecdsa_digest(std::move(tbs), field);
    return tpm::sign_ecdsa(ctx, key, session, tpm::hash_by_digest_size(d.size()), d, field);
  }
  case Family::k_rsa_pkcs: {
    if (!op.mech->md.empty()) {
      return tpm::sign_rsa(ctx, key, session, TPM2_ALG_RSASSA, tpm_hash(op.mech->md), tbs);
    }
    // The caller passes the DigestInfo (OpenSSH does): pad here, raw RSA in the TPM.
    size_t k = facts.signature_size();
    if (tbs.size() + 11 > k) {
      fail(CKR_DATA_LEN_RANGE);
    }
    Bytes em = crypto::pkcs1_type1_pad(tbs, k);
    return modulus_sized(tpm::rsa_decrypt(ctx, key, session, TPM2_ALG_NULL, TPM2_ALG_NULL, em), k);
  }
  case Family::k_rsa_pss: {
    if (tbs.size() != crypto::digest_size(op.pss_md)) {
      fail(CKR_DATA_LEN_RANGE);
    }
    if (op.salt_len == tbs.size() && m.pss_good(ts)) {
      return tpm::sign_rsa(ctx, key, session, TPM2_ALG_RSAPSS, tpm_hash(op.pss_md), tbs);
    }
    // This TPM's PSS salt is not the hash length (or another salt was asked for): encode
    // PSS in software and sign the block with raw RSA.
    size_t bits = facts.modulus_bits;
    Bytes em = crypto::pss_encode(op.pss_md, tbs, op.salt_len, bits);
    return modulus_sized(tpm::rsa_decrypt(ctx, key, session, TPM2_ALG_NULL, TPM2_ALG_NULL, em),
                         (bits + 7) / 8);
  }
  case Family::k_rsa_x509: {
    // Raw RSA of the input as an integer (left zero padding keeps its value).
    size_t k = facts.signature_size();
    if (facts.ec || tbs.size() > k) {
      fail(CKR_DATA_LEN_RANGE);
    }
    tbs.insert(tbs.begin(), k - tbs.size(), 0);
    return modulus_sized(tpm::rsa_decrypt(ctx, key, session, TPM2_ALG_NULL, TPM2_ALG_NULL, tbs), k);
  }
  case Family::k_rsa_oaep:
  case Family::k_aes:
  case Family::k_hmac:
  case Family::k_digest:
  case Family::k_keygen:
    break;
  }
  fail(CKR_MECHANISM_INVALID);
}

// HMAC of `data` in the TPM with the operation's key.
Bytes
tpm_hmac(Module& m, Session& s, const Object& obj, std::span<const uint8_t> data)
{
  TokenState& ts = m.token(s.slot);
  TPM2_ALG_ID hash = tpm_hash(s.op.mech->md);
  return m.with_tpm(ts, [&] {
    ESYS_TR key = m.load_key(ts, obj);
    return tpm::hmac(ts.esys->get(), key, ts.pc->session(), hash, data);
  });
}

// The size half of C_Sign / C_SignFinal (PKCS#11 2.40 §5.2): a NULL buffer asks for the
// size (the operation stays), a short one gets CKR_BUFFER_TOO_SMALL, and a
// CKA_ALWAYS_AUTHENTICATE key needs its context login first. nullopt: go on and sign.
std::optional<CK_RV>
answer_size(const Session& s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len, size_t size, bool& keep)
{
  if (!sig) {
    *sig_len = size;
    keep = true;
    return CKR_OK;
  }
  if (*sig_len < size) {
    *sig_len = size;
    return CKR_BUFFER_TOO_SMALL;
  }
  if (s.op.needs_context_login && !s.op.context_login_done) {
    return CKR_USER_NOT_LOGGED_IN;
  }
  return std::nullopt;
}

CK_RV
hmac_sign(Module& m, Session& s, std::span<const uint8_t> data, CK_BYTE_PTR sig,
          CK_ULONG_PTR sig_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    size_t size = crypto::digest_size(s.op.mech->md);
    if (auto rv = answer_size(s, sig, sig_len, size, keep)) {
      return *rv;
    }
    Bytes mac = tpm_hmac(m, s, obj, data);
    if (mac.size() != size) {
      log(LogLevel::k_warn, "TPM2_HMAC returned " + std::to_string(mac.size()) + " bytes, expected "
                              + std::to_string(size));
      return CKR_FUNCTION_FAILED;
    }
    std::memcpy(sig, mac.data(), mac.size());
    *sig_len = mac.size();
    return CKR_OK;
  });
}

CK_RV
hmac_verify(Module& m, Session& s, std::span<const uint8_t> data, std::span<const uint8_t> sig)
{
  return finishing(s, [&](bool&) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    if (sig.size() != crypto::digest_size(s.op.mech->md)) {
      return CKR_SIGNATURE_LEN_RANGE;
    }
    Bytes mac = tpm_hmac(m, s, obj, data);
    bool ok = mac.size() == sig.size() && CRYPTO_memcmp(mac.data(), sig.data(), sig.size()) == 0;
    return ok ? CKR_OK : CKR_SIGNATURE_INVALID;
  });
}

CK_RV
sign_all(Module& m, Session& s, std::span<const uint8_t> data, CK_BYTE_PTR sig,
         CK_ULONG_PTR sig_len)
{
  if (s.op.mech->family == Family::k_hmac) {
    return hmac_sign(m, s, data, sig, sig_len);
  }
  return finishing(s, [&](bool& keep) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    TpmKeyFacts facts = tpm_key_facts(obj);
    size_t size = facts.signature_size();
    if (auto rv = answer_size(s, sig, sig_len, size, keep)) {
      return *rv;
    }
    Bytes out = m.with_tpm(m.token(s.slot), [&] { return tpm_signature(m, s, obj, facts, data); });
    if (out.size() > *sig_len) { // cannot happen with sizes from the TPM key; never copy
      log(LogLevel::k_warn, "signature of " + std::to_string(out.size()) + " bytes, expected "
                              + std::to_string(size));
      *sig_len = out.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    std::memcpy(sig, out.data(), out.size());
    *sig_len = out.size();
    return CKR_OK;
  });
}

CK_RV
verify_all(Module& m, Session& s, std::span<const uint8_t> data, std::span<const uint8_t> sig)
{
  if (s.op.mech->family == Family::k_hmac) {
    return hmac_verify(m, s, data, sig);
  }
  return finishing(s, [&](bool&) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    const Operation& op = s.op;
    if (sig.size() != signature_size(obj.attrs)) {
      return CKR_SIGNATURE_LEN_RANGE;
    }
    auto key = keys::public_key_from_attrs(obj.attrs);
    if (!key) {
      return CKR_KEY_TYPE_INCONSISTENT;
    }
    Bytes tbs = to_be_signed(op, data);
    bool ok = false;
    switch (op.mech->family) {
    case Family::k_ecdsa:
      ok = crypto::verify(key->get(), crypto::SigKind::k_ecdsa_raw, "", 0, tbs, sig);
      break;
    case Family::k_rsa_pkcs:
      ok = crypto::verify(key->get(), crypto::SigKind::k_rsa_pkcs1, op.mech->md, 0, tbs, sig);
      break;
    case Family::k_rsa_pss:
      if (tbs.size() != crypto::digest_size(op.pss_md)) {
        return CKR_DATA_LEN_RANGE;
      }
      ok = crypto::verify(key->get(), crypto::SigKind::k_rsa_pss, op.pss_md, op.salt_len, tbs, sig);
      break;
    case Family::k_rsa_x509: {
      size_t k = sig.size();
      if (tbs.size() > k) {
        return CKR_DATA_LEN_RANGE;
      }
      tbs.insert(tbs.begin(), k - tbs.size(), 0);
      Bytes recovered;
      try {
        recovered = rsa_public(key->get(), *op.mech, "", {}, sig, k);
      } catch (const CkError&) {
        return CKR_SIGNATURE_INVALID; // not below the modulus
      }
      ok = recovered.size() == tbs.size()
           && CRYPTO_memcmp(recovered.data(), tbs.data(), tbs.size()) == 0;
      break;
    }
    case Family::k_rsa_oaep:
    case Family::k_aes:
    case Family::k_hmac:
    case Family::k_digest:
    case Family::k_keygen:
      return CKR_MECHANISM_INVALID;
    }
    return ok ? CKR_OK : CKR_SIGNATURE_INVALID;
  });
}

} // namespace

CK_RV
sign_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
  start_operation(m, m.session(h), mech, key, KeyUse::k_sign);
  return CKR_OK;
}

CK_RV
sign(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
     CK_ULONG_PTR sig_len)
{
  Session& s = active(m, h, Operation::Kind::k_sign);
  if (!sig_len) {
    return CKR_ARGUMENTS_BAD;
  }
  return sign_all(m, s, bytes(data, len), sig, sig_len);
}

CK_RV
sign_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
  Session& s = active(m, h, Operation::Kind::k_sign);
  auto in = bytes(part, len);
  s.op.data.insert(s.op.data.end(), in.begin(), in.end());
  return CKR_OK;
}

CK_RV
sign_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
  Session& s = active(m, h, Operation::Kind::k_sign);
  if (!sig_len) {
    return CKR_ARGUMENTS_BAD;
  }
  Bytes data = s.op.data;
  return sign_all(m, s, data, sig, sig_len);
}

CK_RV
verify_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
  start_operation(m, m.session(h), mech, key, KeyUse::k_verify);
  return CKR_OK;
}

CK_RV
verify(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
       CK_ULONG sig_len)
{
  Session& s = active(m, h, Operation::Kind::k_verify);
  return verify_all(m, s, bytes(data, len), bytes(sig, sig_len));
}

CK_RV
verify_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
  Session& s = active(m, h, Operation::Kind::k_verify);
  auto in = bytes(part, len);
  s.op.data.insert(s.op.data.end(), in.begin(), in.end());
  return CKR_OK;
}

CK_RV
verify_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
  Session& s = active(m, h, Operation::Kind::k_verify);
  Bytes data = s.op.data;
  return verify_all(m, s, data, bytes(sig, sig_len));
}

} // namespace ptool::p11
