// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/primary.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/crypto/pk.hpp"
#include "core/hex.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/import.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::tpm {

namespace {

constexpr TPM2_HANDLE k_persistent_first = 0x81000000;
constexpr TPM2_HANDLE k_persistent_default = 0x81000001;

void
fill_sensitive(TPM2B_SENSITIVE_CREATE& sens, std::span<const uint8_t> auth,
               std::span<const uint8_t> data)
{
  if (auth.size() > sizeof(sens.sensitive.userAuth.buffer)) {
    throw Error(ExitCode::k_usage, "auth value is longer than the TPM accepts");
  }
  if (data.size() > sizeof(sens.sensitive.data.buffer)) {
    throw Error(ExitCode::k_usage, "sealed data is longer than the TPM accepts");
  }
  sens.sensitive.userAuth.size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) {
    std::memcpy(sens.sensitive.userAuth.buffer, auth.data(), auth.size());
  }
  sens.sensitive.data.size = static_cast<UINT16>(data.size());
  if (!data.empty()) {
    std::memcpy(sens.sensitive.data.buffer, data.data(), data.size());
  }
}

} // namespace

TpmObject
create_primary(ESYS_CONTEXT* ctx, ESYS_TR hierarchy, ESYS_TR session, const TPM2B_PUBLIC& tmpl,
               std::span<const uint8_t> auth, TPM2B_PUBLIC* out_public)
{
  Wiped<TPM2B_SENSITIVE_CREATE> sens;
  fill_sensitive(*sens, auth, {});
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* pub = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(ctx, hierarchy, session, ESYS_TR_NONE, ESYS_TR_NONE, sens.get(),
                                  &tmpl, &outside, &pcrs, &handle, &pub, nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> owned(pub);
  check_rc(rc, "TPM2_CreatePrimary",
           hierarchy == ESYS_TR_RH_OWNER ? AuthKind::k_hierarchy : AuthKind::k_none);
  if (out_public) {
    *out_public = *pub;
  }
  return TpmObject(ctx, handle, TpmObject::Drop::k_flush);
}

TpmObject
create_salt_key(ESYS_CONTEXT* ctx)
{
  return create_primary(ctx, ESYS_TR_RH_NULL, ESYS_TR_PASSWORD, salt_key_template(), {});
}

std::optional<Session>
owner_session(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth, bool secret)
{
  set_auth(ctx, ESYS_TR_RH_OWNER, hierarchy_auth);
  if (!secret) {
    return std::nullopt;
  }
  TpmObject salt = create_salt_key(ctx); // flushed once the session is started
  std::optional<Session> session;
  session.emplace(ctx, salt.get());
  session->use_for(true, false);
  return session;
}

void
PrimaryContext::abandon() noexcept
{
  if (m_session) {
    m_session->finished();
  }
  m_primary.release();
  m_bootstrap.release();
}

PrimaryContext::PrimaryContext(ESYS_CONTEXT* ctx, const Primary& primary,
                               std::span<const uint8_t> hierarchy_auth)
    : m_ctx(ctx)
{
  if (!primary.transient) {
    m_primary = deserialize_tr(ctx, primary.esys_tr);
    set_auth(ctx, m_primary.get(), primary.objauth);
    try {
      m_session.emplace(ctx, m_primary.get());
    } catch (const Error& e) {
      // The first TPM command to use the primary: when the handle was evicted or the TPM
      // cleared, say which primary, not just "the handle is not correct for the use".
      if (e.code() != ExitCode::k_general || is_tpm_full(e)) {
        throw; // a full TPM is not an evicted primary: never suggest destroying it
      }
      TPM2_HANDLE handle = 0;
      Esys_TR_GetTpmHandle(ctx, m_primary.get(), &handle);
      throw Error(ExitCode::k_general,
                  "primary object " + std::to_string(primary.id) + " (persistent handle "
                    + hex32(handle) + ") is not usable in this TPM: " + e.what(),
                  "if the handle was evicted, 'tpm2-ptool init --repair --pid "
                    + std::to_string(primary.id)
                    + "' re-creates it (and refuses if the TPM was cleared); "
                      "'tpm2-ptool doctor' checks the handles");
    }
    return;
  }
  auto tmpl = primary_template(primary.template_name);
  if (!tmpl) {
    throw Error(ExitCode::k_general, "primary " + std::to_string(primary.id)
                                       + " names an unknown template '" + primary.template_name
                                       + "'");
  }
  bool secret = !hierarchy_auth.empty() || !primary.objauth.empty();
  set_auth(ctx, ESYS_TR_RH_OWNER, hierarchy_auth);
  if (secret) {
    // Salt the session with a throw-away NULL-hierarchy key so the owner auth and the
    // primary's auth never cross the bus in clear.
    m_bootstrap = create_salt_key(ctx);
    m_session.emplace(ctx, m_bootstrap.get());
    m_session->use_for(true, false);
    m_primary = create_primary(ctx, ESYS_TR_RH_OWNER, m_session->get(), *tmpl, primary.objauth);
    m_bootstrap.reset();
  } else {
    m_primary = create_primary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, *tmpl, {});
    m_session.emplace(ctx, m_primary.get());
  }
  set_auth(ctx, m_primary.get(), primary.objauth);
}

CreatedObject
PrimaryContext::create(const TPM2B_PUBLIC& tmpl, std::span<const uint8_t> auth,
                       std::span<const uint8_t> data, bool last)
{
  Wiped<TPM2B_SENSITIVE_CREATE> sens;
  fill_sensitive(*sens, auth, data);
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* priv = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  if (last) {
    m_session->last_use();
  }
  m_session->use_for(true, false);
  TSS2_RC rc =
    Esys_Create(m_ctx, m_primary.get(), m_session->get(), ESYS_TR_NONE, ESYS_TR_NONE, sens.get(),
                &tmpl, &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PRIVATE> owned_priv(priv);
  EsysPtr<TPM2B_PUBLIC> owned_pub(pub);
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    // Ask the TPM whether it supports these parameters at all, to tell "not supported
    // here" apart from a bad template.
    TPMT_PUBLIC_PARMS parms{};
    parms.type = tmpl.publicArea.type;
    parms.parameters = tmpl.publicArea.parameters;
    if (Esys_TestParms(m_ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms)
        != TSS2_RC_SUCCESS) {
      throw Error(ExitCode::k_unsupported,
                  "this TPM does not support the requested key parameters (TPM2_TestParms "
                  "rejected them)",
                  "choose another --algorithm; 'tpm2-ptool doctor' lists the ones this TPM "
                  "supports");
    }
  }
  check_rc(rc, "TPM2_Create", AuthKind::k_primary);
  if (last) {
    m_session->finished();
  }
  return CreatedObject{*pub, *priv};
}

TpmObject
PrimaryContext::load(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv, bool last)
{
  ESYS_TR handle = ESYS_TR_NONE;
  if (last) {
    m_session->last_use();
  }
  m_session->use_for(false, false);
  check_rc(Esys_Load(m_ctx, m_primary.get(), m_session->get(), ESYS_TR_NONE, ESYS_TR_NONE, &priv,
                     &pub, &handle),
           "TPM2_Load", AuthKind::k_primary);
  if (last) {
    m_session->finished();
  }
  return TpmObject(m_ctx, handle, TpmObject::Drop::k_flush);
}

SecureBytes
PrimaryContext::unseal(const SealBlobs& seal, std::span<const uint8_t> auth, bool last)
{
  TpmObject obj = load(unmarshal_public(seal.pub), unmarshal_private(seal.priv));
  set_auth(m_ctx, obj.get(), auth);
  TPM2B_SENSITIVE_DATA* out = nullptr;
  if (last) {
    m_session->last_use(); // the TPM keeps the session when the Unseal fails (wrong PIN)
  }
  m_session->use_for(false, true);
  TSS2_RC rc = Esys_Unseal(m_ctx, obj.get(), m_session->get(), ESYS_TR_NONE, ESYS_TR_NONE, &out);
  EsysPtr<TPM2B_SENSITIVE_DATA> owned(out);
  check_rc(rc, "TPM2_Unseal", AuthKind::k_pin);
  if (last) {
    m_session->finished();
  }
  SecureBytes data(out->buffer, out->buffer + out->size);
  OPENSSL_cleanse(out, sizeof(*out));
  return data;
}

PersistentPrimary::PersistentPrimary(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth,
                                     std::span<const uint8_t> primary_auth,
                                     std::optional<TPM2_HANDLE> wanted)
    : m_ctx(ctx), m_hierarchy_auth(hierarchy_auth.begin(), hierarchy_auth.end())
{
  std::vector<TPM2_HANDLE> used = persistent_handles(ctx);
  auto in_use = [&](TPM2_HANDLE h) { return std::find(used.begin(), used.end(), h) != used.end(); };
  TPM2_HANDLE handle = wanted.value_or(k_persistent_default);
  if (in_use(handle)) {
    if (wanted) {
      throw Error(ExitCode::k_usage, "persistent handle " + hex32(handle) + " is already in use",
                  "use 'init --primary-handle " + hex32(handle)
                    + "' to add the existing key, or pick a free handle");
    }
    handle = k_persistent_first;
    while (in_use(handle)) {
      ++handle;
    }
  }
  m_result.handle = handle;

  std::optional<Session> session =
    owner_session(ctx, hierarchy_auth, !hierarchy_auth.empty() || !primary_auth.empty());
  ESYS_TR auth_session = session ? session->get() : ESYS_TR_PASSWORD;
  TpmObject transient = create_primary(ctx, ESYS_TR_RH_OWNER, auth_session,
                                       *primary_template("tpm2-tools-default"), primary_auth);
  if (session) {
    session->last_use();
    session->use_for(false, false);
  }
  TSS2_RC rc = TPM2_RC_SUCCESS;
  for (;;) {
    rc = Esys_EvictControl(ctx, ESYS_TR_RH_OWNER, transient.get(), auth_session, ESYS_TR_NONE,
                           ESYS_TR_NONE, handle, &m_persistent);
    // Another process (a concurrent init) took the handle between our GetCapability and
    // EvictControl: move on to the next free one rather than failing.
    if (rc != TPM2_RC_NV_DEFINED || wanted || handle >= k_persistent_first + 0xffff) {
      break;
    }
    used = persistent_handles(ctx);
    handle = std::max(handle + 1, k_persistent_first);
    while (in_use(handle)) {
      ++handle;
    }
    m_result.handle = handle;
  }
  check_rc(rc, "TPM2_EvictControl", AuthKind::k_hierarchy);
  if (session) {
    session->finished();
  }
  try {
    m_result.esys_tr = serialize_tr(ctx, m_persistent);
  } catch (...) {
    release();
    throw;
  }
}

PersistentPrimary::~PersistentPrimary()
{
  release();
}

void
PersistentPrimary::release() noexcept
{
  if (m_persistent == ESYS_TR_NONE) {
    return;
  }
  if (m_committed) {
    Esys_TR_Close(m_ctx, &m_persistent);
  } else {
    // The store row was not written: take the handle back out of NV so nothing is leaked.
    Esys_TR_SetAuth(m_ctx, ESYS_TR_RH_OWNER, nullptr);
    TPM2B_AUTH auth{};
    auth.size = static_cast<UINT16>(std::min(m_hierarchy_auth.size(), sizeof(auth.buffer)));
    if (m_hierarchy_auth.size() != 0) {
      std::memcpy(auth.buffer, m_hierarchy_auth.data(), auth.size);
    }
    Esys_TR_SetAuth(m_ctx, ESYS_TR_RH_OWNER, &auth);
    OPENSSL_cleanse(&auth, sizeof(auth));
    ESYS_TR out = ESYS_TR_NONE;
    Esys_EvictControl(m_ctx, ESYS_TR_RH_OWNER, m_persistent, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                      ESYS_TR_NONE, m_result.handle, &out);
  }
  m_persistent = ESYS_TR_NONE;
}

Bytes
read_persistent(ESYS_CONTEXT* ctx, TPM2_HANDLE handle)
{
  if ((handle >> 24) != TPM2_HT_PERSISTENT) {
    throw Error(ExitCode::k_usage, "handle " + hex32(handle) + " is not a persistent handle",
                "persistent handles are 0x81000000-0x81ffffff");
  }
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc != TSS2_RC_SUCCESS && (rc & 0xff) == (TPM2_RC_HANDLE & 0xff)) {
    throw_not_found("Handle " + hex32(handle) + " is not persistent",
                    "'tpm2-ptool doctor' lists the persistent handles");
  }
  check_rc(rc, "TPM2_ReadPublic");
  TpmObject obj(ctx, tr, TpmObject::Drop::k_close);
  return serialize_tr(ctx, obj.get());
}

} // namespace ptool::tpm
