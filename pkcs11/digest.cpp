// SPDX-License-Identifier: BSD-2-Clause
// Message digests (OpenSSL: no TPM, no login), random seeding (TPM2_StirRandom),
// operation state (not offered, as upstream).
#include <algorithm>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/tpm/esys.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/key_use.hpp"

namespace ptool::p11 {

namespace {

Session&
digesting(Module& m, CK_SESSION_HANDLE h)
{
  Session& s = m.session(h);
  if (s.op.kind != Operation::Kind::k_digest) {
    fail(CKR_OPERATION_NOT_INITIALIZED);
  }
  return s;
}

void
feed(Session& s, CK_BYTE_PTR data, CK_ULONG len)
{
  if (!data && len) {
    fail(CKR_ARGUMENTS_BAD);
  }
  if (len && EVP_DigestUpdate(s.op.md_ctx.get(), data, len) != 1) {
    fail(CKR_FUNCTION_FAILED);
  }
}

// The digest of everything fed so far, under the size protocol (a NULL buffer or a short
// one keeps the operation; the digest is taken from a copy of the context only when it fits).
CK_RV
finish(Session& s, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    auto size = static_cast<CK_ULONG>(EVP_MD_CTX_get_size(s.op.md_ctx.get()));
    if (!out) {
      *out_len = size;
      keep = true;
      return CKR_OK;
    }
    if (*out_len < size) {
      *out_len = size;
      return CKR_BUFFER_TOO_SMALL;
    }
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(s.op.md_ctx.get(), out, &n) != 1 || n != size) {
      return CKR_FUNCTION_FAILED;
    }
    *out_len = n;
    return CKR_OK;
  });
}

} // namespace

CK_RV
digest_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
  Session& s = m.session(h);
  if (!mech) {
    return CKR_ARGUMENTS_BAD;
  }
  if (s.op.kind != Operation::Kind::k_none) {
    return CKR_OPERATION_ACTIVE;
  }
  const Mechanism* info = find_mechanism(mech->mechanism);
  if (!info || info->family != Mechanism::Family::k_digest) {
    return CKR_MECHANISM_INVALID;
  }
  std::string name(info->md);
  const EVP_MD* md = EVP_get_digestbyname(name.c_str());
  std::shared_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    return CKR_FUNCTION_FAILED;
  }
  Operation op;
  op.kind = Operation::Kind::k_digest;
  op.mech = info;
  op.md_ctx = std::move(ctx);
  s.op = std::move(op);
  return CKR_OK;
}

CK_RV
digest(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
       CK_ULONG_PTR out_len)
{
  Session& s = digesting(m, h);
  if (!out_len || (!data && len)) {
    return CKR_ARGUMENTS_BAD;
  }
  if (s.op.multi) {
    return CKR_OPERATION_ACTIVE; // C_DigestUpdate was used: finish with C_DigestFinal
  }
  if (!out) {
    *out_len = static_cast<CK_ULONG>(EVP_MD_CTX_get_size(s.op.md_ctx.get()));
    return CKR_OK;
  }
  if (*out_len < static_cast<CK_ULONG>(EVP_MD_CTX_get_size(s.op.md_ctx.get()))) {
    *out_len = static_cast<CK_ULONG>(EVP_MD_CTX_get_size(s.op.md_ctx.get()));
    return CKR_BUFFER_TOO_SMALL;
  }
  try {
    feed(s, data, len);
  } catch (...) {
    s.op = Operation{};
    throw;
  }
  return finish(s, out, out_len);
}

CK_RV
digest_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
  Session& s = digesting(m, h);
  try {
    feed(s, part, len);
  } catch (...) {
    s.op = Operation{};
    throw;
  }
  s.op.multi = true;
  return CKR_OK;
}

CK_RV
digest_key(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE)
{
  digesting(m, h);
  // Our keys' values never leave the TPM (as upstream: not offered).
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
digest_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  Session& s = digesting(m, h);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  return finish(s, out, out_len);
}

CK_RV
seed_random(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
  if (!seed && len) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  m.with_tpm(ts, [&] {
    m.tpm(ts);
    tpm::Session& session = ts.pc->session();
    for (CK_ULONG off = 0; off < len;) {
      TPM2B_SENSITIVE_DATA in{};
      auto n = static_cast<UINT16>(std::min<CK_ULONG>(len - off, sizeof(in.buffer)));
      in.size = n;
      std::memcpy(in.buffer, seed + off, n);
      session.use_for(true, false); // the seed crosses the bus encrypted
      TSS2_RC rc = Esys_StirRandom(ts.esys->get(), session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &in);
      session.use_for(false, false);
      OPENSSL_cleanse(&in, sizeof(in));
      tpm::check_rc(rc, "TPM2_StirRandom");
      off += n;
    }
    return 0;
  });
  return CKR_OK;
}

CK_RV
get_operation_state(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR, CK_ULONG_PTR)
{
  m.session(h);
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
