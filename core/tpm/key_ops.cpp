// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/key_ops.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::tpm {

namespace {

constexpr size_t k_inner_key_bytes = 16; // AES-128

// Marshalled TPM2B_SENSITIVE (size prefix included), wiped on release.
SecureBytes
marshal_sensitive(const TPMT_SENSITIVE& sensitive)
{
  Wiped<TPM2B_SENSITIVE> wrapped;
  wrapped->sensitiveArea = sensitive;
  SecureBytes out(sizeof(TPM2B_SENSITIVE));
  size_t offset = 0;
  check_rc(Tss2_MU_TPM2B_SENSITIVE_Marshal(wrapped.get(), out.data(), out.size(), &offset),
           "Tss2_MU_TPM2B_SENSITIVE_Marshal");
  out.resize(offset);
  return out;
}

// The inner duplication wrapper of TPM 2.0 Part 1 §23.3.2.2:
// CFB_key(IV=0)( TPM2B_DIGEST(H(sensitive || name)) || sensitive ).
SecureBytes
inner_wrap(const SecureBytes& sensitive, const Bytes& name, const SecureBytes& key)
{
  SecureBytes plain;
  SecureBytes hashed(sensitive.begin(), sensitive.end());
  hashed.insert(hashed.end(), name.begin(), name.end());
  Bytes integrity = crypto::sha256(hashed);
  plain.push_back(static_cast<uint8_t>(integrity.size() >> 8));
  plain.push_back(static_cast<uint8_t>(integrity.size() & 0xff));
  plain.insert(plain.end(), integrity.begin(), integrity.end());
  plain.insert(plain.end(), sensitive.begin(), sensitive.end());

  SecureBytes out(plain.size());
  const uint8_t iv[16] = {};
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr, key.data(), iv) != 1
      || EVP_EncryptUpdate(ctx.get(), out.data(), &len, plain.data(),
                           static_cast<int>(plain.size()))
           != 1
      || EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL AES-128-CFB failed while wrapping the key");
  }
  return out;
}

} // namespace

TPM2B_PRIVATE
change_auth(PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
            std::span<const uint8_t> old_auth, std::span<const uint8_t> new_auth, AuthKind kind,
            bool last)
{
  ESYS_CONTEXT* ctx = pc.ctx();
  TpmObject obj = pc.load(pub, priv);
  set_auth(ctx, obj.get(), old_auth);
  Wiped<TPM2B_AUTH> value;
  if (new_auth.size() > sizeof(value->buffer)) {
    throw Error(ExitCode::k_usage, "the new auth value is longer than the TPM accepts");
  }
  value->size = static_cast<UINT16>(new_auth.size());
  if (!new_auth.empty()) {
    std::memcpy(value->buffer, new_auth.data(), new_auth.size());
  }
  if (last) {
    pc.session().last_use();
  }
  // newAuth is the first command parameter: the session encrypts it on the bus.
  pc.session().use_for(true, false);
  TPM2B_PRIVATE* out = nullptr;
  TSS2_RC rc = Esys_ObjectChangeAuth(ctx, obj.get(), pc.primary(), pc.session().get(), ESYS_TR_NONE,
                                     ESYS_TR_NONE, value.get(), &out);
  EsysPtr<TPM2B_PRIVATE> owned(out);
  check_rc(rc, "TPM2_ObjectChangeAuth", kind);
  if (last) {
    pc.session().finished();
  }
  return *out;
}

Bytes
object_name(const TPM2B_PUBLIC& pub)
{
  if (pub.publicArea.nameAlg != TPM2_ALG_SHA256) {
    throw Error(ExitCode::k_unsupported, "only SHA-256 name algorithms are supported");
  }
  Bytes area(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  check_rc(Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, area.data(), area.size(), &offset),
           "Tss2_MU_TPMT_PUBLIC_Marshal");
  area.resize(offset);
  Bytes digest = crypto::sha256(area);
  Bytes name(2 + digest.size());
  name[1] = 0x0b; // TPM2_ALG_SHA256, big-endian
  std::copy(digest.begin(), digest.end(), name.begin() + 2);
  return name;
}

TPM2B_PRIVATE
import_sensitive(PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPMT_SENSITIVE& sensitive)
{
  ESYS_CONTEXT* ctx = pc.ctx();
  SecureBytes key = crypto::random_bytes(k_inner_key_bytes);
  SecureBytes wrapped = inner_wrap(marshal_sensitive(sensitive), object_name(pub), key);
  Wiped<TPM2B_DATA> enc_key;
  enc_key->size = static_cast<UINT16>(key.size());
  std::memcpy(enc_key->buffer, key.data(), key.size());
  Wiped<TPM2B_PRIVATE> duplicate;
  if (wrapped.size() > sizeof(duplicate->buffer)) {
    throw Error(ExitCode::k_usage, "the key is too large to import into the TPM");
  }
  duplicate->size = static_cast<UINT16>(wrapped.size());
  std::memcpy(duplicate->buffer, wrapped.data(), wrapped.size());
  TPM2B_ENCRYPTED_SECRET seed{}; // no outer wrapper: the parent need not decrypt a seed
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = 128;
  sym.mode.aes = TPM2_ALG_CFB;

  // encryptionKey is the first command parameter: the salted session encrypts it.
  pc.session().use_for(true, false);
  TPM2B_PRIVATE* out = nullptr;
  TSS2_RC rc = Esys_Import(ctx, pc.primary(), pc.session().get(), ESYS_TR_NONE, ESYS_TR_NONE,
                           enc_key.get(), &pub, duplicate.get(), &seed, &sym, &out);
  EsysPtr<TPM2B_PRIVATE> owned(out);
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    throw Error(ExitCode::k_unsupported,
                std::string("the TPM refused the key's parameters (TPM2_Import)"),
                "this TPM may not support the key's size or curve; 'tpm2-ptool doctor' lists "
                "what it supports");
  }
  check_rc(rc, "TPM2_Import", AuthKind::k_primary);
  return *out;
}

} // namespace ptool::tpm
