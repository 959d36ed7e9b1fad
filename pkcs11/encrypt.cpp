// SPDX-License-Identifier: BSD-2-Clause
// C_Encrypt* (AES in the TPM, RSA with the public key in OpenSSL), multi-part C_Decrypt*,
// and the AES work C_Decrypt shares.
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/c_handles.hpp"
#include "core/crypto/pk.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/tpm/symmetric.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/key_use.hpp"

namespace ptool::p11 {

namespace {

using Family = Mechanism::Family;
constexpr size_t k_block = 16;

bool
stream_mode(const Mechanism& mech)
{
  return mech.aes_mode == TPM2_ALG_CFB || mech.aes_mode == TPM2_ALG_CTR;
}

// CKM_AES_CTR: refuses data that would carry the counter out of its ulCounterBits (the TPM
// would carry into the nonce part instead of wrapping).
void
check_counter(const Operation& op, size_t len)
{
  if (op.mech->aes_mode != TPM2_ALG_CTR || op.ctr_bits >= 128 || op.iv.size() != 16) {
    return;
  }
  unsigned __int128 ctr = 0;
  for (uint8_t b : op.iv) {
    ctr = (ctr << 8) | b;
  }
  unsigned __int128 span = static_cast<unsigned __int128>(1) << op.ctr_bits;
  ctr &= span - 1;
  unsigned __int128 blocks = (len + k_block - 1) / k_block;
  if (ctr + blocks > span) {
    fail(CKR_DATA_LEN_RANGE);
  }
}

// Runs `in` through the TPM with the operation's key, mode and chaining value.
SecureBytes
tpm_aes(Module& m, Session& s, bool decrypt, std::span<const uint8_t> in)
{
  if (in.empty()) {
    return {};
  }
  Operation& op = s.op;
  if (op.needs_context_login && !op.context_login_done) {
    fail(CKR_USER_NOT_LOGGED_IN);
  }
  check_counter(op, in.size());
  const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(op.key));
  TokenState& ts = m.token(s.slot);
  const Bytes start_iv = op.iv;
  return m.with_tpm(ts, [&] {
    ESYS_TR key = m.load_key(ts, obj);
    Bytes iv = start_iv; // a retry after a lost TPM starts from the same chaining value
    SecureBytes out =
      tpm::aes_crypt(ts.esys->get(), key, ts.pc->session(), decrypt, op.mech->aes_mode, iv, in);
    op.iv = std::move(iv);
    return out;
  });
}

// Copies `data` out under the PKCS#11 size protocol; `keep` is set for a size query.
CK_RV
deliver(std::span<const uint8_t> data, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  if (*out_len < data.size()) {
    *out_len = data.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!data.empty()) {
    std::memcpy(out, data.data(), data.size());
  }
  *out_len = data.size();
  return CKR_OK;
}

std::optional<SecureBytes>
strip_pkcs7(SecureBytes plain)
{
  if (plain.empty() || plain.size() % k_block) {
    return std::nullopt;
  }
  uint8_t n = plain.back();
  if (n == 0 || n > k_block) {
    return std::nullopt;
  }
  for (size_t i = plain.size() - n; i < plain.size(); ++i) {
    if (plain[i] != n) {
      return std::nullopt;
    }
  }
  plain.resize(plain.size() - n);
  return plain;
}

// Bytes of `avail` buffered input an Update may process now: whole blocks, and for
// CBC_PAD decryption never the last block (it may be the padding).
size_t
update_take(const Operation& op, bool decrypt, size_t avail)
{
  if (decrypt && op.mech->pad) {
    return avail ? (avail - 1) / k_block * k_block : 0;
  }
  return avail / k_block * k_block;
}

CK_RV
aes_update(Module& m, Session& s, bool decrypt, std::span<const uint8_t> in, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    Operation& op = s.op;
    if (op.single) {
      return CKR_OPERATION_ACTIVE;
    }
    size_t take = update_take(op, decrypt, op.pending.size() + in.size());
    keep = true;
    if (!out) {
      *out_len = take;
      return CKR_OK;
    }
    if (*out_len < take) {
      *out_len = take;
      return CKR_BUFFER_TOO_SMALL;
    }
    op.multi = true;
    SecureBytes all = op.pending;
    all.insert(all.end(), in.begin(), in.end());
    SecureBytes result = tpm_aes(m, s, decrypt, std::span<const uint8_t>(all).first(take));
    op.pending.assign(all.begin() + static_cast<std::ptrdiff_t>(take), all.end());
    return deliver(result, out, out_len);
  });
}

// The final block(s) of a multi-part operation, computed once (op.result) so a short
// buffer or a size query does not repeat TPM work.
CK_RV
aes_final(Module& m, Session& s, bool decrypt, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    Operation& op = s.op;
    if (op.single) {
      return CKR_OPERATION_ACTIVE;
    }
    if (!op.result) {
      size_t left = op.pending.size();
      if (!stream_mode(*op.mech)) {
        if (decrypt && op.mech->pad ? left != k_block : (!op.mech->pad && left != 0)) {
          return decrypt ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
        }
      }
      if (!decrypt && op.mech->pad) {
        if (!out) {
          *out_len = k_block;
          keep = true;
          return CKR_OK;
        }
        op.pending.insert(op.pending.end(), k_block - left, static_cast<uint8_t>(k_block - left));
      } else if (!out && !(decrypt && op.mech->pad)) {
        *out_len = left;
        keep = true;
        return CKR_OK;
      } else if (!out) {
        *out_len = k_block; // an upper bound: the padding is known only after decryption
        keep = true;
        return CKR_OK;
      }
      SecureBytes last = tpm_aes(m, s, decrypt, op.pending);
      op.pending.clear();
      if (decrypt && op.mech->pad) {
        auto stripped = strip_pkcs7(std::move(last));
        if (!stripped) {
          return CKR_ENCRYPTED_DATA_INVALID;
        }
        last = std::move(*stripped);
      }
      op.result = std::move(last);
    }
    if (!out) {
      *out_len = op.result->size();
      keep = true;
      return CKR_OK;
    }
    return deliver(*op.result, out, out_len);
  });
}

// RSA with the public key (OpenSSL): PKCS#1 v1.5, OAEP, raw.
CK_RV
rsa_encrypt(Module& m, Session& s, std::span<const uint8_t> in, CK_BYTE_PTR out,
            CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    const Object& obj = m.object(s, static_cast<CK_OBJECT_HANDLE>(s.op.key));
    size_t k = signature_size(obj.attrs);
    if (!out) {
      *out_len = k;
      keep = true;
      return CKR_OK;
    }
    if (*out_len < k) {
      *out_len = k;
      return CKR_BUFFER_TOO_SMALL;
    }
    auto key = keys::public_key_from_attrs(obj.attrs);
    if (!key) {
      return CKR_KEY_TYPE_INCONSISTENT;
    }
    Bytes cipher = rsa_public(key->get(), *s.op.mech, s.op.pss_md, s.op.label, in, k);
    return deliver(cipher, out, out_len);
  });
}

} // namespace

Bytes
rsa_public(EVP_PKEY* key, const Mechanism& mech, std::string_view oaep_md,
           std::span<const uint8_t> label, std::span<const uint8_t> in, size_t k)
{
  int padding = mech.family == Family::k_rsa_oaep   ? RSA_PKCS1_OAEP_PADDING
                : mech.family == Family::k_rsa_x509 ? RSA_NO_PADDING
                                                    : RSA_PKCS1_PADDING;
  Bytes input(in.begin(), in.end());
  if (padding == RSA_NO_PADDING) {
    if (input.size() > k) {
      fail(CKR_DATA_LEN_RANGE);
    }
    input.insert(input.begin(), k - input.size(), 0); // the same integer, modulus-sized
  } else {
    size_t overhead = padding == RSA_PKCS1_PADDING ? 11 : 2 * crypto::digest_size(oaep_md) + 2;
    if (input.size() + overhead > k) {
      fail(CKR_DATA_LEN_RANGE);
    }
  }
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0
      || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding) <= 0) {
    fail(CKR_FUNCTION_FAILED);
  }
  if (padding == RSA_PKCS1_OAEP_PADDING) {
    std::string md(oaep_md);
    if (EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md.c_str(), nullptr) <= 0
        || EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), md.c_str(), nullptr) <= 0) {
      fail(CKR_FUNCTION_FAILED);
    }
    if (!label.empty()) {
      void* copy = OPENSSL_memdup(label.data(), label.size());
      if (!copy
          || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size()))
               <= 0) {
        OPENSSL_free(copy);
        fail(CKR_FUNCTION_FAILED);
      }
    }
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, input.data(), input.size()) <= 0) {
    fail(CKR_FUNCTION_FAILED);
  }
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, input.data(), input.size()) <= 0) {
    // Raw RSA of a value not below the modulus.
    fail(padding == RSA_NO_PADDING ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED);
  }
  out.resize(len);
  out.insert(out.begin(), len < k ? k - len : 0, 0);
  return out;
}

CK_RV
aes_single(Module& m, Session& s, bool decrypt, std::span<const uint8_t> in, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len)
{
  return finishing(s, [&](bool& keep) -> CK_RV {
    Operation& op = s.op;
    if (op.multi) {
      return CKR_OPERATION_ACTIVE;
    }
    const Mechanism& mech = *op.mech;
    if (!op.result) {
      if (!stream_mode(mech) && (decrypt || !mech.pad) && in.size() % k_block) {
        return decrypt ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
      }
      size_t size = !decrypt && mech.pad ? (in.size() / k_block + 1) * k_block : in.size();
      if (!out) {
        *out_len = size; // exact, or for CBC_PAD decryption an upper bound
        keep = true;
        return CKR_OK;
      }
      if (*out_len < size && !(decrypt && mech.pad)) {
        *out_len = size;
        return CKR_BUFFER_TOO_SMALL;
      }
      op.single = true;
      SecureBytes data(in.begin(), in.end());
      if (!decrypt && mech.pad) {
        size_t n = k_block - in.size() % k_block;
        data.insert(data.end(), n, static_cast<uint8_t>(n));
      }
      SecureBytes result = tpm_aes(m, s, decrypt, data);
      if (decrypt && mech.pad) {
        auto stripped = strip_pkcs7(std::move(result));
        if (!stripped) {
          return CKR_ENCRYPTED_DATA_INVALID;
        }
        result = std::move(*stripped);
      }
      op.result = std::move(result);
    }
    if (!out) {
      *out_len = op.result->size();
      keep = true;
      return CKR_OK;
    }
    return deliver(*op.result, out, out_len);
  });
}

CK_RV
encrypt_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
  start_operation(m, m.session(h), mech, key, KeyUse::k_encrypt);
  return CKR_OK;
}

CK_RV
encrypt(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
        CK_ULONG_PTR out_len)
{
  Session& s = active(m, h, Operation::Kind::k_encrypt);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  if (s.op.mech->family == Family::k_aes) {
    return aes_single(m, s, false, bytes(in, in_len), out, out_len);
  }
  return rsa_encrypt(m, s, bytes(in, in_len), out, out_len);
}

CK_RV
encrypt_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
               CK_ULONG_PTR out_len)
{
  Session& s = active(m, h, Operation::Kind::k_encrypt);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  auto data = bytes(in, in_len);
  if (s.op.mech->family == Family::k_aes) {
    return aes_update(m, s, false, data, out, out_len);
  }
  // RSA: one block, encrypted at C_EncryptFinal.
  s.op.data.insert(s.op.data.end(), data.begin(), data.end());
  *out_len = 0;
  return CKR_OK;
}

CK_RV
encrypt_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  Session& s = active(m, h, Operation::Kind::k_encrypt);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  if (s.op.mech->family == Family::k_aes) {
    return aes_final(m, s, false, out, out_len);
  }
  Bytes data = s.op.data;
  return rsa_encrypt(m, s, data, out, out_len);
}

CK_RV
decrypt_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
               CK_ULONG_PTR out_len)
{
  Session& s = active(m, h, Operation::Kind::k_decrypt);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  auto data = bytes(in, in_len);
  if (s.op.mech->family == Family::k_aes) {
    return aes_update(m, s, true, data, out, out_len);
  }
  s.op.data.insert(s.op.data.end(), data.begin(), data.end());
  *out_len = 0;
  return CKR_OK;
}

CK_RV
decrypt_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
  Session& s = active(m, h, Operation::Kind::k_decrypt);
  if (!out_len) {
    return CKR_ARGUMENTS_BAD;
  }
  if (s.op.mech->family == Family::k_aes) {
    return aes_final(m, s, true, out, out_len);
  }
  Bytes data = s.op.data;
  return rsa_decrypt_all(m, s, data, out, out_len);
}

} // namespace ptool::p11
