// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/salted_session.hpp"

#include <algorithm>
#include <cstring>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>

#include "core/attest/credential.hpp"
#include "core/attest/public.hpp"
#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "core/wire.hpp"

namespace ptool::tpm {

namespace {

using wire::put_u16;
using wire::put_u32;

constexpr uint32_t k_session_resource = 3; // IESYSC_SESSION_RSRC

// The salt key's public area as ESAPI holds it (its serialized ESYS_TR: handle, name,
// resource type, TPM2B_PUBLIC), so the salt goes to the key ESAPI verified when it loaded it.
TPMT_PUBLIC
public_of(ESYS_CONTEXT* ctx, ESYS_TR key)
{
  Bytes tr = serialize_tr(ctx, key);
  size_t offset = 4;
  TPM2B_NAME name{};
  UINT32 type = 0;
  TPM2B_PUBLIC pub{};
  if (Tss2_MU_TPM2B_NAME_Unmarshal(tr.data(), tr.size(), &offset, &name) != TSS2_RC_SUCCESS
      || Tss2_MU_UINT32_Unmarshal(tr.data(), tr.size(), &offset, &type) != TSS2_RC_SUCCESS
      || type != 1 /* IESYSC_KEY_RSRC */
      || Tss2_MU_TPM2B_PUBLIC_Unmarshal(tr.data(), tr.size(), &offset, &pub) != TSS2_RC_SUCCESS) {
    throw Error(ExitCode::k_general, "the session's salt key has no public area in ESAPI");
  }
  return pub.publicArea;
}

template<typename T, typename F>
void
marshal(SecureBytes& out, const T& value, F fn)
{
  uint8_t buffer[sizeof(T) + 8];
  size_t len = 0;
  check_rc(fn(&value, buffer, sizeof(buffer), &len), "Tss2_MU marshal");
  out.insert(out.end(), buffer, buffer + len);
  OPENSSL_cleanse(buffer, sizeof(buffer));
}

// The salted session built here (see start_auth_session), or ESYS_TR_NONE (the TPM's session
// flushed) when this tpm2-tss serializes sessions in a layout other than the one written
// here, which serializing the result back detects.
ESYS_TR
salted_here(ESYS_CONTEXT* ctx, ESYS_TR salt_key, TPM2_SE type, const TPMT_SYM_DEF& symmetric,
            TPMI_ALG_HASH auth_hash)
{
  TPMT_PUBLIC pub = public_of(ctx, salt_key);
  TPM2_HANDLE key_handle = 0;
  check_rc(Esys_TR_GetTpmHandle(ctx, salt_key, &key_handle), "Esys_TR_GetTpmHandle");

  Wiped<TPM2B_ENCRYPTED_SECRET> encrypted;
  SecureBytes salt = attest::encrypt_secret(pub, "SECRET", *encrypted);
  const auto digest_size = static_cast<size_t>(EVP_MD_get_size(attest::tpm_md(auth_hash)));
  TPM2B_NONCE nonce_caller{};
  SecureBytes random = crypto::random_bytes(digest_size);
  nonce_caller.size = static_cast<UINT16>(digest_size);
  std::copy(random.begin(), random.end(), nonce_caller.buffer);

  TSS2_SYS_CONTEXT* sys = nullptr;
  check_rc(Esys_GetSysContext(ctx, &sys), "Esys_GetSysContext");
  TPMI_SH_AUTH_SESSION handle = 0;
  TPM2B_NONCE nonce_tpm{};
  nonce_tpm.size = 0;
  check_rc(Tss2_Sys_StartAuthSession(sys, key_handle, TPM2_RH_NULL, nullptr, &nonce_caller,
                                     encrypted.get(), type, &symmetric, auth_hash, &handle,
                                     &nonce_tpm, nullptr),
           "TPM2_StartAuthSession (salted here)");
  // From here the TPM holds the session: flush it on every failure.
  struct Flush
  {
    TSS2_SYS_CONTEXT* sys;
    TPM2_HANDLE handle;
    bool armed = true;
    ~Flush()
    {
      if (armed) {
        Tss2_Sys_FlushContext(sys, handle);
      }
    }
  } flush{sys, handle};

  SecureBytes key =
    attest::kdfa(auth_hash, salt, "ATH", std::span(nonce_tpm.buffer, nonce_tpm.size),
                 std::span(nonce_caller.buffer, nonce_caller.size), 8 * digest_size);
  Wiped<TPM2B_DIGEST> session_key;
  session_key->size = static_cast<UINT16>(key.size());
  std::memcpy(session_key->buffer, key.data(), key.size());

  // IESYS_RESOURCE of a session, as tpm2-tss 3.2 serializes it: handle, name (the handle),
  // resource type, then IESYS_SESSION: bound entity, encrypted salt, salt (all empty),
  // symmetric, auth hash, session key, session type, attributes, nonceCaller, nonceTPM,
  // encrypt, decrypt, policy type (UINT32 each), and the two UINT16 sizes of values ESAPI
  // recomputes for every command.
  SecureBytes blob;
  put_u32(blob, handle);
  put_u16(blob, 4);
  put_u32(blob, handle);
  put_u32(blob, k_session_resource);
  put_u16(blob, 0);
  put_u16(blob, 0);
  put_u16(blob, 0);
  marshal(blob, symmetric, Tss2_MU_TPMT_SYM_DEF_Marshal);
  put_u16(blob, auth_hash);
  marshal(blob, *session_key, Tss2_MU_TPM2B_DIGEST_Marshal);
  blob.push_back(type);
  blob.push_back(TPMA_SESSION_CONTINUESESSION);
  marshal(blob, nonce_caller, Tss2_MU_TPM2B_NONCE_Marshal);
  marshal(blob, nonce_tpm, Tss2_MU_TPM2B_NONCE_Marshal);
  put_u32(blob, 0);
  put_u32(blob, 0);
  put_u32(blob, 0);
  put_u16(blob, 0);
  put_u16(blob, 0);

  ESYS_TR tr = ESYS_TR_NONE;
  check_rc(Esys_TR_Deserialize(ctx, blob.data(), blob.size(), &tr),
           "Esys_TR_Deserialize (salted session)");
  // A tpm2-tss that reads another layout would have taken other fields: it must give back
  // exactly these bytes.
  uint8_t* back = nullptr;
  size_t back_size = 0;
  TSS2_RC rc = Esys_TR_Serialize(ctx, tr, &back, &back_size);
  bool same = rc == TSS2_RC_SUCCESS && back_size == blob.size()
              && std::memcmp(back, blob.data(), back_size) == 0;
  if (back) {
    OPENSSL_cleanse(back, back_size);
    Esys_Free(back);
  }
  if (!same) {
    Esys_TR_Close(ctx, &tr);
    return ESYS_TR_NONE; // the session is flushed; the caller asks ESAPI instead
  }
  flush.armed = false;
  return tr;
}

} // namespace

ESYS_TR
start_auth_session(ESYS_CONTEXT* ctx, ESYS_TR salt_key, TPM2_SE type, const TPMT_SYM_DEF& symmetric,
                   TPMI_ALG_HASH auth_hash, const char* what)
{
  ESYS_TR handle = salt_key != ESYS_TR_NONE ? salted_here(ctx, salt_key, type, symmetric, auth_hash)
                                            : ESYS_TR_NONE;
  if (handle == ESYS_TR_NONE) {
    check_rc(Esys_StartAuthSession(ctx, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, nullptr, type, &symmetric, auth_hash, &handle),
             what);
  }
  return handle;
}

} // namespace ptool::tpm
