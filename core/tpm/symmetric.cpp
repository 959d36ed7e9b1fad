// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/symmetric.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include <openssl/crypto.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::tpm {

namespace {

// Set once a TPM answered TPM_RC_COMMAND_CODE to TPM2_EncryptDecrypt2 (older firmware).
std::atomic<bool> g_no_encrypt_decrypt2{false};

bool
is_command_code(TSS2_RC rc)
{
  TSS2_RC code = rc & 0xfff; // the TPM's format-0 code, layer bits dropped
  return (rc & ~TSS2_RC_LAYER_MASK) == rc && code == TPM2_RC_COMMAND_CODE;
}

TPM2B_MAX_BUFFER
to_buffer(std::span<const uint8_t> in)
{
  TPM2B_MAX_BUFFER b{};
  if (in.size() > sizeof(b.buffer)) {
    throw Error(ExitCode::k_usage, "data chunk is longer than the TPM accepts");
  }
  b.size = static_cast<UINT16>(in.size());
  if (!in.empty()) {
    std::memcpy(b.buffer, in.data(), in.size());
  }
  return b;
}

TPM2B_IV
to_iv(const Bytes& iv, TPM2_ALG_ID mode)
{
  TPM2B_IV out{};
  if (mode == TPM2_ALG_ECB) {
    return out; // ECB takes no IV (the TPM wants an empty one)
  }
  out.size = 16;
  std::copy_n(iv.begin(), std::min<size_t>(iv.size(), 16), out.buffer);
  return out;
}

// One TPM2_EncryptDecrypt(2) of at most k_max_buffer bytes.
void
crypt_chunk(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, bool decrypt, TPM2_ALG_ID mode,
            Bytes& iv, std::span<const uint8_t> in, SecureBytes& out)
{
  TPM2B_MAX_BUFFER data = to_buffer(in);
  TPM2B_IV iv_in = to_iv(iv, mode);
  TPM2B_MAX_BUFFER* result = nullptr;
  TPM2B_IV* iv_out = nullptr;
  TSS2_RC rc = TPM2_RC_COMMAND_CODE;
  const char* what = "TPM2_EncryptDecrypt2";
  if (!g_no_encrypt_decrypt2.load()) {
    // inData is the first parameter: encrypted on the way in, outData on the way back.
    session.use_for(true, true);
    rc = Esys_EncryptDecrypt2(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &data,
                              decrypt ? TPM2_YES : TPM2_NO, mode, &iv_in, &result, &iv_out);
    session.use_for(false, false);
    if (is_command_code(rc)) {
      g_no_encrypt_decrypt2 = true;
    }
  }
  if (g_no_encrypt_decrypt2.load()) {
    // The first parameter is the direction flag, not a buffer: only the response (outData)
    // can be encrypted.
    what = "TPM2_EncryptDecrypt";
    session.use_for(false, true);
    rc = Esys_EncryptDecrypt(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE,
                             decrypt ? TPM2_YES : TPM2_NO, mode, &iv_in, &data, &result, &iv_out);
    session.use_for(false, false);
  }
  OPENSSL_cleanse(&data, sizeof(data));
  EsysPtr<TPM2B_MAX_BUFFER> owned(result);
  EsysPtr<TPM2B_IV> owned_iv(iv_out);
  check_rc(rc, what);
  if (result->size != in.size()) {
    OPENSSL_cleanse(result, sizeof(*result));
    throw Error(ExitCode::k_general, std::string(what) + " returned " + std::to_string(result->size)
                                       + " bytes for " + std::to_string(in.size()));
  }
  out.insert(out.end(), result->buffer, result->buffer + result->size);
  OPENSSL_cleanse(result, sizeof(*result));
  if (iv_out && iv_out->size == 16) {
    iv.assign(iv_out->buffer, iv_out->buffer + 16);
  }
}

} // namespace

SecureBytes
aes_crypt(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, bool decrypt, TPM2_ALG_ID mode,
          Bytes& iv, std::span<const uint8_t> in)
{
  SecureBytes out;
  out.reserve(in.size());
  for (size_t off = 0; off < in.size(); off += k_max_buffer) {
    crypt_chunk(ctx, key, session, decrypt, mode, iv,
                in.subspan(off, std::min(k_max_buffer, in.size() - off)), out);
  }
  return out;
}

Bytes
hmac(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID hash,
     std::span<const uint8_t> data)
{
  if (data.size() <= k_max_buffer) {
    TPM2B_MAX_BUFFER buf = to_buffer(data);
    TPM2B_DIGEST* mac = nullptr;
    session.use_for(true, false);
    TSS2_RC rc = Esys_HMAC(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &buf, hash, &mac);
    session.use_for(false, false);
    OPENSSL_cleanse(&buf, sizeof(buf));
    EsysPtr<TPM2B_DIGEST> owned(mac);
    check_rc(rc, "TPM2_HMAC");
    return Bytes(mac->buffer, mac->buffer + mac->size);
  }
  // A one-off random auth for the sequence object, used through the same salted session.
  SecureBytes seq_auth_bytes = crypto::random_bytes(16);
  TPM2B_AUTH seq_auth{};
  seq_auth.size = 16;
  std::memcpy(seq_auth.buffer, seq_auth_bytes.data(), 16);
  ESYS_TR seq_tr = ESYS_TR_NONE;
  session.use_for(true, false);
  TSS2_RC rc =
    Esys_HMAC_Start(ctx, key, session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &seq_auth, hash, &seq_tr);
  session.use_for(false, false);
  OPENSSL_cleanse(&seq_auth, sizeof(seq_auth));
  check_rc(rc, "TPM2_HMAC_Start");
  TpmObject seq(ctx, seq_tr, TpmObject::Drop::k_flush);
  set_auth(ctx, seq.get(), seq_auth_bytes);
  size_t off = 0;
  // Everything but the last chunk through SequenceUpdate, the rest with SequenceComplete.
  while (data.size() - off > k_max_buffer) {
    TPM2B_MAX_BUFFER buf = to_buffer(data.subspan(off, k_max_buffer));
    session.use_for(true, false);
    rc = Esys_SequenceUpdate(ctx, seq.get(), session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &buf);
    session.use_for(false, false);
    OPENSSL_cleanse(&buf, sizeof(buf));
    check_rc(rc, "TPM2_SequenceUpdate");
    off += k_max_buffer;
  }
  TPM2B_MAX_BUFFER last = to_buffer(data.subspan(off));
  TPM2B_DIGEST* mac = nullptr;
  TPMT_TK_HASHCHECK* ticket = nullptr;
  session.use_for(true, false);
  rc = Esys_SequenceComplete(ctx, seq.get(), session.get(), ESYS_TR_NONE, ESYS_TR_NONE, &last,
                             ESYS_TR_RH_NULL, &mac, &ticket);
  session.use_for(false, false);
  OPENSSL_cleanse(&last, sizeof(last));
  EsysPtr<TPM2B_DIGEST> owned(mac);
  EsysPtr<TPMT_TK_HASHCHECK> owned_ticket(ticket);
  check_rc(rc, "TPM2_SequenceComplete");
  seq.release(); // SequenceComplete flushed the sequence object
  return Bytes(mac->buffer, mac->buffer + mac->size);
}

} // namespace ptool::tpm
