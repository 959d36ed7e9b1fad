// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/token_ops.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <openssl/rsa.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/openssl_key.hpp"
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

TpmObject
create_primary(ESYS_CONTEXT* ctx, ESYS_TR hierarchy, ESYS_TR session, const TPM2B_PUBLIC& tmpl,
               std::span<const uint8_t> auth, TPM2B_PUBLIC* out_public = nullptr)
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

// A NULL-hierarchy key that salts a session before any key of ours exists. It needs no
// auth and its seed changes at every TPM reset, so nothing is left behind.
TpmObject
create_salt_key(ESYS_CONTEXT* ctx)
{
  return create_primary(ctx, ESYS_TR_RH_NULL, ESYS_TR_PASSWORD, salt_key_template(), {});
}

std::string
hex_handle(TPM2_HANDLE h)
{
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", h);
  return buf;
}

} // namespace

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
      if (e.code() != ExitCode::k_general) {
        throw;
      }
      TPM2_HANDLE handle = 0;
      Esys_TR_GetTpmHandle(ctx, m_primary.get(), &handle);
      throw Error(ExitCode::k_general,
                  "primary object " + std::to_string(primary.id) + " (persistent handle "
                    + hex_handle(handle) + ") is not usable in this TPM: " + e.what(),
                  "was it evicted or the TPM cleared? 'tpm2-ptool listprimaries' shows the "
                  "primaries; remove this one with 'tpm2-ptool destroy --pid "
                    + std::to_string(primary.id) + " --keep-handle'");
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
                  "choose another --algorithm; list what the TPM supports with "
                  "'tpm2_getcap algorithms' and 'tpm2_getcap ecc-curves'");
    }
  }
  check_rc(rc, "TPM2_Create", AuthKind::k_primary);
  if (last) {
    m_session->finished();
  }
  return CreatedObject{*pub, *priv};
}

TpmObject
PrimaryContext::load(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv)
{
  ESYS_TR handle = ESYS_TR_NONE;
  m_session->use_for(false, false);
  check_rc(Esys_Load(m_ctx, m_primary.get(), m_session->get(), ESYS_TR_NONE, ESYS_TR_NONE, &priv,
                     &pub, &handle),
           "TPM2_Load", AuthKind::k_primary);
  return TpmObject(m_ctx, handle, TpmObject::Drop::k_flush);
}

SecureBytes
PrimaryContext::unseal(const SealBlobs& seal, std::span<const uint8_t> auth)
{
  TpmObject obj = load(unmarshal_public(seal.pub), unmarshal_private(seal.priv));
  set_auth(m_ctx, obj.get(), auth);
  TPM2B_SENSITIVE_DATA* out = nullptr;
  m_session->use_for(false, true);
  TSS2_RC rc = Esys_Unseal(m_ctx, obj.get(), m_session->get(), ESYS_TR_NONE, ESYS_TR_NONE, &out);
  EsysPtr<TPM2B_SENSITIVE_DATA> owned(out);
  check_rc(rc, "TPM2_Unseal", AuthKind::k_pin);
  SecureBytes data(out->buffer, out->buffer + out->size);
  OPENSSL_cleanse(out, sizeof(*out));
  return data;
}

SecureBytes
unseal_wrapping_key(PrimaryContext& pc, const SealBlobs& seal, std::span<const uint8_t> pin)
{
  SecureBytes auth = crypto::hash_pass(pin, seal.salt);
  SecureBytes text;
  try {
    text = pc.unseal(seal, auth);
  } catch (const Error& e) {
    if (e.code() == ExitCode::k_auth && !is_lockout(e)) {
      throw Error(ExitCode::k_auth, std::string("wrong PIN (") + e.what() + ")", e.hint());
    }
    throw;
  }
  return wrapping_key_from_hex(text);
}

SecureBytes
wrapping_key_from_hex(std::span<const uint8_t> text)
{
  if (text.size() != 64) {
    throw Error(ExitCode::k_general, "the token's sealed wrapping key has an unexpected length");
  }
  SecureBytes key(32);
  for (size_t i = 0; i < 32; ++i) {
    auto nib = [](uint8_t c) -> int {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    int hi = nib(text[2 * i]);
    int lo = nib(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      throw Error(ExitCode::k_general, "the token's sealed wrapping key is not hex");
    }
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return key;
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
      throw Error(ExitCode::k_usage,
                  "persistent handle " + hex_handle(handle) + " is already in use",
                  "use 'init --primary-handle " + hex_handle(handle)
                    + "' to add the existing key, or pick a free handle");
    }
    handle = k_persistent_first;
    while (in_use(handle)) {
      ++handle;
    }
  }
  m_result.handle = handle;

  bool secret = !hierarchy_auth.empty() || !primary_auth.empty();
  std::optional<Session> session;
  set_auth(ctx, ESYS_TR_RH_OWNER, hierarchy_auth);
  if (secret) {
    TpmObject salt = create_salt_key(ctx);
    session.emplace(ctx, salt.get());
    session->use_for(true, false);
  }
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
    throw Error(ExitCode::k_usage, "handle " + hex_handle(handle) + " is not a persistent handle",
                "persistent handles are 0x81000000-0x81ffffff");
  }
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc != TSS2_RC_SUCCESS && (rc & 0xff) == (TPM2_RC_HANDLE & 0xff)) {
    throw_not_found("Handle " + hex_handle(handle) + " is not persistent",
                    "list persistent handles with 'tpm2_getcap handles-persistent'");
  }
  check_rc(rc, "TPM2_ReadPublic");
  TpmObject obj(ctx, tr, TpmObject::Drop::k_close);
  return serialize_tr(ctx, obj.get());
}

void
validate_transient_primary(ESYS_CONTEXT* ctx, const std::string& template_name,
                           std::span<const uint8_t> hierarchy_auth,
                           std::span<const uint8_t> primary_auth)
{
  Primary p;
  p.transient = true;
  p.template_name = template_name;
  p.objauth = SecureBytes(primary_auth.begin(), primary_auth.end());
  PrimaryContext pc(ctx, p, hierarchy_auth);
}

bool
pss_sigs_good(ESYS_CONTEXT* ctx)
{
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* raw = nullptr;
  check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MODES, 1, &more, &raw),
           "TPM2_GetCapability(modes)");
  EsysPtr<TPMS_CAPABILITY_DATA> caps(raw);
  const auto& props = caps->data.tpmProperties;
  if (props.count == 1 && props.tpmProperty[0].property == TPM2_PT_MODES
      && (props.tpmProperty[0].value & TPMA_MODES_FIPS_140_2)) {
    return true;
  }

  TPM2B_PUBLIC pub{};
  TpmObject key =
    create_primary(ctx, ESYS_TR_RH_NULL, ESYS_TR_PASSWORD, pss_probe_template(), {}, &pub);
  static constexpr char k_message[] = "message";
  Bytes md = crypto::sha256(std::span(reinterpret_cast<const uint8_t*>(k_message), 7));
  TPM2B_DIGEST digest{};
  digest.size = static_cast<UINT16>(md.size());
  std::memcpy(digest.buffer, md.data(), md.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_RSAPSS;
  scheme.details.rsapss.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK ticket{};
  ticket.tag = TPM2_ST_HASHCHECK;
  ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  TSS2_RC rc = Esys_Sign(ctx, key.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                         &scheme, &ticket, &sig);
  EsysPtr<TPMT_SIGNATURE> owned(sig);
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    return false; // no RSA-PSS at all: the library synthesizes PSS in software
  }
  check_rc(rc, "TPM2_Sign(RSA-PSS probe)");
  key.reset();

  const auto& rsa = pub.publicArea.unique.rsa;
  EvpPkey pkey = keys::rsa_public_key(Bytes(rsa.buffer, rsa.buffer + rsa.size), {0x01, 0x00, 0x01});
  std::span<const uint8_t> signature(sig->signature.rsapss.sig.buffer,
                                     sig->signature.rsapss.sig.size);
  for (int saltlen : {RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_AUTO}) {
    EvpPkeyCtx vctx(EVP_PKEY_CTX_new(pkey.get(), nullptr));
    if (!vctx || EVP_PKEY_verify_init(vctx.get()) != 1
        || EVP_PKEY_CTX_set_rsa_padding(vctx.get(), RSA_PKCS1_PSS_PADDING) != 1
        || EVP_PKEY_CTX_set_signature_md(vctx.get(), EVP_sha256()) != 1
        || EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx.get(), saltlen) != 1) {
      throw Error(ExitCode::k_general, "OpenSSL could not set up RSA-PSS verification");
    }
    if (EVP_PKEY_verify(vctx.get(), signature.data(), signature.size(), md.data(), md.size())
        == 1) {
      return saltlen == RSA_PSS_SALTLEN_DIGEST;
    }
  }
  throw Error(ExitCode::k_general, "the TPM's RSA-PSS test signature does not verify",
              "this TPM's RSA-PSS implementation is not usable");
}

} // namespace ptool::tpm
