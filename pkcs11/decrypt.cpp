// SPDX-License-Identifier: BSD-2-Clause
// C_Decrypt for RSA (PKCS#1 v1.5, OAEP, raw) and AES, and C_GenerateRandom, all in the TPM.
#include <cstring>

#include "core/crypto/pk.hpp"
#include "core/error.hpp"
#include "core/tpm/sign.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/key_use.hpp"

namespace ptool::p11 {

CK_RV
decrypt_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
  start_operation(m, m.session(h), mech, key, KeyUse::k_decrypt);
  return CKR_OK;
}

CK_RV
rsa_decrypt_all(Module& m, Session& s, std::span<const uint8_t> cipher, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    size_t k = tpm_key_facts(obj).signature_size(); // modulus bytes, from the TPM key
    if (!out && !s.op.result) {
      *out_len = k; // an upper bound is allowed; the TPM is asked only once
      keep = true;
      return CKR_OK;
    }
    if (!s.op.result) {
      if (cipher.size() != k) {
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
      }
      if (s.op.needs_context_login && !s.op.context_login_done) {
        return CKR_USER_NOT_LOGGED_IN;
      }
      TokenState& ts = m.token(s.slot);
      Mechanism::Family family = s.op.mech->family;
      bool oaep = family == Mechanism::Family::k_rsa_oaep;
      bool raw = family == Mechanism::Family::k_rsa_x509;
      CK_RV rv = m.with_tpm(ts, [&]() -> CK_RV {
        ESYS_TR key = m.load_key(ts, obj);
        try {
          if (raw || (oaep && !s.op.label.empty() && s.op.label.back() != 0)) {
            // Raw RSA; for OAEP labels the TPM cannot take (it wants them NUL-terminated)
            // the block is decoded here.
            SecureBytes em = tpm::rsa_decrypt(ts.esys->get(), key, ts.pc->session(), TPM2_ALG_NULL,
                                              TPM2_ALG_NULL, cipher);
            em.insert(em.begin(), em.size() < k ? k - em.size() : 0, 0);
            if (raw) {
              s.op.result = std::move(em);
              return CKR_OK;
            }
            s.op.result = crypto::oaep_decode(s.op.pss_md, em, s.op.label);
            if (!s.op.result) {
              return CKR_ENCRYPTED_DATA_INVALID;
            }
          } else {
            s.op.result = tpm::rsa_decrypt(
              ts.esys->get(), key, ts.pc->session(), oaep ? TPM2_ALG_OAEP : TPM2_ALG_RSAES,
              oaep ? tpm_hash(s.op.pss_md) : TPM2_ALG_NULL, cipher, s.op.label);
          }
        } catch (const Error& e) {
          if (e.code() == ExitCode::k_tcti || tpm::is_lost_tpm(e)) {
            throw;
          }
          log(LogLevel::k_info, std::string("decrypt failed: ") + e.what());
          return CKR_ENCRYPTED_DATA_INVALID;
        }
        return CKR_OK;
      });
      if (rv != CKR_OK) {
        return rv;
      }
    }
    const SecureBytes& plain = *s.op.result;
    if (!out) {
      *out_len = plain.size();
      keep = true;
      return CKR_OK;
    }
    if (*out_len < plain.size()) {
      *out_len = plain.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    if (!plain.empty()) {
      std::memcpy(out, plain.data(), plain.size());
    }
    *out_len = plain.size();
    return CKR_OK;
  });
}

CK_RV
decrypt(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
        CK_ULONG_PTR out_len)
{
  Session& s = m.session(h);
  if (s.op.kind != Operation::Kind::k_decrypt) {
    return CKR_OPERATION_NOT_INITIALIZED;
  }
  if ((!in && in_len) || !out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  std::span<const uint8_t> cipher(in, in ? in_len : 0);
  if (s.op.mech->family == Mechanism::Family::k_aes) {
    return aes_single(m, s, true, cipher, out, out_len);
  }
  return rsa_decrypt_all(m, s, cipher, out, out_len);
}

CK_RV
generate_random(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
  if (!out && len) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  Bytes r = m.with_tpm(ts, [&] {
    m.tpm(ts);
    return tpm::get_random(ts.esys->get(), len);
  });
  if (r.size() != len) {
    return CKR_FUNCTION_FAILED;
  }
  if (len) {
    std::memcpy(out, r.data(), len);
  }
  return CKR_OK;
}

} // namespace ptool::p11
