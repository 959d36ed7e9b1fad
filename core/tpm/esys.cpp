// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/esys.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <openssl/crypto.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/tpm/salted_session.hpp"

namespace ptool::tpm {

namespace {

// The TPM's own response code, with the layer stripped when a resource manager passed it on.
TSS2_RC
tpm_code(TSS2_RC rc)
{
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER) {
    return 0;
  }
  TSS2_RC code = rc & ~TSS2_RC_LAYER_MASK;
  if (code & TPM2_RC_FMT1) {
    return code & (TPM2_RC_FMT1 | 0x3f); // drop parameter/handle/session numbers
  }
  return code;
}

bool
is_transport_failure(TSS2_RC rc)
{
  TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  if (layer == TSS2_TCTI_RC_LAYER) {
    return true;
  }
  return (layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_SYS_RC_LAYER
          || layer == TSS2_RESMGR_RC_LAYER)
         && (base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION
             || base == TSS2_BASE_RC_TRY_AGAIN);
}

constexpr const char* k_lockout_hint =
  "the TPM is in dictionary-attack lockout: wait for it to expire, or clear it "
  "with 'tpm2-ptool doctor --clear-lockout' (needs the lockout auth)";

std::string
auth_hint(AuthKind auth)
{
  switch (auth) {
  case AuthKind::k_pin:
    return "check the PIN; every wrong try counts against the TPM's dictionary-attack lockout";
  case AuthKind::k_hierarchy:
    return "the owner hierarchy has a password: pass it with --hierarchy-auth";
  case AuthKind::k_primary:
    return "the primary object's auth does not match (--primary-auth at init)";
  case AuthKind::k_none:
    break;
  }
  return "an authorization value is wrong";
}

constexpr const char* k_full_hint =
  "the TPM has no free slots: on a TPM without resource manager, flush what killed processes "
  "left with 'tpm2_flushcontext -t' (transient objects) and 'tpm2_flushcontext -l' (loaded "
  "sessions), or use a resource manager (device:/dev/tpmrm0 or tabrmd)";

} // namespace

bool
is_tpm_full(const Error& e)
{
  return e.reason() == Reason::k_tpm_full;
}

bool
is_lockout(const Error& e)
{
  return e.reason() == Reason::k_lockout;
}

bool
is_unsupported_parameter(TSS2_RC rc)
{
  switch (tpm_code(rc)) {
  case TPM2_RC_KEY_SIZE:
  case TPM2_RC_CURVE:
  case TPM2_RC_SCHEME:
  case TPM2_RC_SYMMETRIC:
  case TPM2_RC_HASH:
  case TPM2_RC_VALUE:
  case TPM2_RC_ASYMMETRIC:
  case TPM2_RC_MODE:
  case TPM2_RC_KDF:
    return true;
  default:
    return false;
  }
}

Reason
reason_of_rc(TSS2_RC rc)
{
  if (rc == TSS2_RC_SUCCESS) {
    return Reason::k_general;
  }
  TSS2_RC code = tpm_code(rc);
  if (code == TPM2_RC_AUTH_FAIL || code == TPM2_RC_BAD_AUTH) {
    return Reason::k_wrong_auth;
  }
  if (code == TPM2_RC_LOCKOUT) {
    return Reason::k_lockout;
  }
  if (code == TPM2_RC_COMMAND_CODE || is_unsupported_parameter(rc)) {
    return Reason::k_unsupported;
  }
  if (code == TPM2_RC_OBJECT_MEMORY || code == TPM2_RC_SESSION_MEMORY
      || code == TPM2_RC_OBJECT_HANDLES || code == TPM2_RC_SESSION_HANDLES) {
    return Reason::k_tpm_full;
  }
  if (code == TPM2_RC_INITIALIZE || is_transport_failure(rc)) {
    return Reason::k_unreachable;
  }
  return Reason::k_general;
}

void
check_rc(TSS2_RC rc, const char* what, AuthKind auth)
{
  if (rc == TSS2_RC_SUCCESS) {
    return;
  }
  std::string message = std::string(what) + " failed: " + Tss2_RC_Decode(rc);
  TSS2_RC code = tpm_code(rc);
  Reason reason = reason_of_rc(rc);
  std::string hint;
  switch (reason) {
  case Reason::k_wrong_auth:
    hint = auth_hint(auth);
    break;
  case Reason::k_lockout:
    hint = k_lockout_hint;
    break;
  case Reason::k_unsupported:
    hint = code == TPM2_RC_COMMAND_CODE ? "this TPM does not implement the command"
                                        : "this TPM does not support these parameters";
    break;
  case Reason::k_tpm_full:
    hint = k_full_hint;
    break;
  case Reason::k_unreachable:
    hint = code == TPM2_RC_INITIALIZE
             ? "the TPM was not started: run 'tpm2_startup -c'"
             : "is the TPM reachable? check --tcti / TPM2TOOLS_TCTI and that the TPM or "
               "simulator is running";
    break;
  default:
    if (code == TPM2_RC_HIERARCHY) {
      hint = "the owner hierarchy is disabled on this TPM";
    }
    break;
  }
  throw TpmError(rc, reason, message, hint);
}

std::optional<std::string>
resolve_tcti(const std::optional<std::string>& option)
{
  if (option && !option->empty()) {
    return option;
  }
  for (const char* var : {"TPM2_PKCS11_TCTI", "TPM2TOOLS_TCTI"}) {
    const char* v = std::getenv(var);
    if (v && *v) {
      return std::string(v);
    }
  }
  return std::nullopt;
}

std::string
tcti_source(const std::optional<std::string>& resolved)
{
  if (!resolved) {
    return "default";
  }
  for (const char* var : {"TPM2_PKCS11_TCTI", "TPM2TOOLS_TCTI"}) {
    const char* v = std::getenv(var);
    if (v && *v && *resolved == v) {
      return var;
    }
  }
  return "--tcti";
}

namespace {

std::atomic<bool> g_quiet_tcti_init{false};

// Tss2_TctiLdr_Initialize with stderr pointed at /dev/null when the CLI asked for quiet.
TSS2_RC
tctildr_init(const char* conf, TSS2_TCTI_CONTEXT** out)
{
  if (!g_quiet_tcti_init.load()) {
    return Tss2_TctiLdr_Initialize(conf, out);
  }
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null_fd >= 0) {
    ::dup2(null_fd, STDERR_FILENO);
  }
  TSS2_RC rc = Tss2_TctiLdr_Initialize(conf, out);
  std::fflush(stderr);
  if (saved >= 0 && null_fd >= 0) {
    ::dup2(saved, STDERR_FILENO);
  }
  if (saved >= 0) {
    ::close(saved);
  }
  if (null_fd >= 0) {
    ::close(null_fd);
  }
  return rc;
}

} // namespace

void
set_quiet_tcti_init(bool quiet)
{
  g_quiet_tcti_init = quiet;
}

bool
is_lost_tpm(const Error& e)
{
  if (e.code() == ExitCode::k_tcti) {
    return true; // transport failure, TCTI gone, TPM_RC_INITIALIZE (TPM reset, not started)
  }
  const auto* t = dynamic_cast<const TpmError*>(&e);
  if (!t) {
    return false;
  }
  TSS2_RC rc = t->rc();
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  if (layer == TSS2_ESAPI_RC_LAYER) {
    // ESYS refuses every call after one that failed half-way ("wrong order").
    TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;
    return base == TSS2_BASE_RC_BAD_SEQUENCE || base == TSS2_BASE_RC_IO_ERROR
           || base == TSS2_BASE_RC_NO_CONNECTION || base == TSS2_BASE_RC_TRY_AGAIN;
  }
  TSS2_RC code = tpm_code(rc);
  if (code == TPM2_RC_INITIALIZE) {
    return true;
  }
  // Handles and sessions the TPM no longer has (after a TPM reset, connection kept).
  TSS2_RC fmt1 = code & (TPM2_RC_FMT1 | 0x3f);
  if ((code & TPM2_RC_FMT1) && fmt1 == TPM2_RC_HANDLE) {
    return true;
  }
  TSS2_RC plain = code & ~static_cast<TSS2_RC>(0x7); // REFERENCE_H0..H6 / S0..S6
  return !(code & TPM2_RC_FMT1) && (plain == TPM2_RC_REFERENCE_H0 || plain == TPM2_RC_REFERENCE_S0);
}

bool
is_allowed_store_tcti(std::string_view tcti)
{
  std::string_view name = tcti.substr(0, tcti.find(':'));
  return name == "device" || name == "tabrmd" || name == "swtpm" || name == "mssim";
}

EsysContext::EsysContext(const std::optional<std::string>& tcti)
    : m_tcti_name(tcti.value_or("default"))
{
  TSS2_RC rc = tctildr_init(tcti ? tcti->c_str() : nullptr, &m_tcti);
  if (rc != TSS2_RC_SUCCESS) {
    std::string source = tcti_source(tcti);
    std::string where = source == "default"
                          ? "the default TCTI (tctildr tried tabrmd, /dev/tpmrm0, /dev/tpm0 "
                            "and the simulators)"
                          : "TCTI '" + *tcti + "' (from " + source + ")";
    const std::string hint = "set --tcti or TPM2_PKCS11_TCTI (e.g. device:/dev/tpmrm0, "
                             "swtpm:host=127.0.0.1,port=2321, tabrmd:bus_type=session) and "
                             "check that the TPM is up; 'tpm2-ptool doctor' checks it";
    if (tcti && (rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_NOT_SUPPORTED) {
      // tctildr found no libtss2-tcti-<name> for the part before ':'.
      std::string name = tcti->substr(0, tcti->find(':'));
      throw Error(ExitCode::k_tcti,
                  "unknown TCTI '" + name + "' in '" + *tcti + "' (from " + source + ")",
                  "TCTIs are device, tabrmd, swtpm, mssim, libtpms (a libtss2-tcti-<name> "
                  "library); e.g. device:/dev/tpmrm0 or tabrmd:bus_type=system");
    }
    throw Error(ExitCode::k_tcti, "cannot reach the TPM at " + where + ": " + Tss2_RC_Decode(rc),
                hint);
  }
  rc = Esys_Initialize(&m_ctx, m_tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&m_tcti);
    check_rc(rc, "Esys_Initialize");
  }
}

EsysContext::~EsysContext()
{
  if (m_ctx) {
    Esys_Finalize(&m_ctx);
  }
  if (m_tcti) {
    Tss2_TctiLdr_Finalize(&m_tcti);
  }
}

TpmObject&
TpmObject::operator=(TpmObject&& o) noexcept
{
  if (this != &o) {
    reset();
    m_ctx = o.m_ctx;
    m_tr = std::exchange(o.m_tr, ESYS_TR_NONE);
    m_drop = o.m_drop;
  }
  return *this;
}

void
TpmObject::reset()
{
  if (m_tr == ESYS_TR_NONE || !m_ctx) {
    return;
  }
  // Errors are ignored on purpose: this runs on error paths and in destructors.
  if (m_drop == Drop::k_flush) {
    Esys_FlushContext(m_ctx, m_tr);
  } else {
    Esys_TR_Close(m_ctx, &m_tr);
  }
  m_tr = ESYS_TR_NONE;
}

Session::Session(ESYS_CONTEXT* ctx, ESYS_TR tpm_key) : m_ctx(ctx)
{
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ESYS_TR handle = start_auth_session(ctx, tpm_key, TPM2_SE_HMAC, symmetric, TPM2_ALG_SHA256,
                                      "TPM2_StartAuthSession");
  m_obj = TpmObject(ctx, handle, TpmObject::Drop::k_flush);
  use_for(false, false);
}

void
Session::use_for(bool decrypt, bool encrypt)
{
  TPMA_SESSION attrs = 0;
  if (m_continue) {
    attrs |= TPMA_SESSION_CONTINUESESSION;
  }
  if (decrypt) {
    attrs |= TPMA_SESSION_DECRYPT;
  }
  if (encrypt) {
    attrs |= TPMA_SESSION_ENCRYPT;
  }
  check_rc(Esys_TRSess_SetAttributes(m_ctx, m_obj.get(), attrs, 0xff), "Esys_TRSess_SetAttributes");
}

void
Session::last_use()
{
  TPMA_SESSION attrs = 0;
  check_rc(Esys_TRSess_GetAttributes(m_ctx, m_obj.get(), &attrs), "Esys_TRSess_GetAttributes");
  m_continue = false;
  attrs &= ~TPMA_SESSION_CONTINUESESSION;
  check_rc(Esys_TRSess_SetAttributes(m_ctx, m_obj.get(), attrs, 0xff), "Esys_TRSess_SetAttributes");
}

void
set_auth(ESYS_CONTEXT* ctx, ESYS_TR tr, std::span<const uint8_t> auth)
{
  Wiped<TPM2B_AUTH> value;
  if (auth.size() > sizeof(value->buffer)) {
    throw Error(ExitCode::k_usage, "auth value is longer than the TPM accepts ("
                                     + std::to_string(sizeof(value->buffer)) + " bytes)");
  }
  value->size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) {
    std::memcpy(value->buffer, auth.data(), auth.size());
  }
  check_rc(Esys_TR_SetAuth(ctx, tr, value.get()), "Esys_TR_SetAuth");
}

Bytes
serialize_tr(ESYS_CONTEXT* ctx, ESYS_TR tr)
{
  uint8_t* buffer = nullptr;
  size_t size = 0;
  check_rc(Esys_TR_Serialize(ctx, tr, &buffer, &size), "Esys_TR_Serialize");
  EsysPtr<uint8_t> owned(buffer);
  return Bytes(buffer, buffer + size);
}

TpmObject
deserialize_tr(ESYS_CONTEXT* ctx, std::span<const uint8_t> data)
{
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_Deserialize(ctx, data.data(), data.size(), &tr);
  if (rc != TSS2_RC_SUCCESS) {
    throw Error(Reason::k_store,
                std::string("the primary object's serialized handle in the store is unreadable: ")
                  + Tss2_RC_Decode(rc));
  }
  return TpmObject(ctx, tr, TpmObject::Drop::k_close);
}

TPM2_HANDLE
handle_of_serialized_tr(std::span<const uint8_t> esys_tr)
{
  if (esys_tr.size() < 4) {
    return 0;
  }
  return static_cast<TPM2_HANDLE>(esys_tr[0]) << 24 | static_cast<TPM2_HANDLE>(esys_tr[1]) << 16
         | static_cast<TPM2_HANDLE>(esys_tr[2]) << 8 | esys_tr[3];
}

Bytes
marshal_public(const TPM2B_PUBLIC& pub)
{
  Bytes out(sizeof(TPM2B_PUBLIC));
  size_t offset = 0;
  check_rc(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &offset),
           "Tss2_MU_TPM2B_PUBLIC_Marshal");
  out.resize(offset);
  return out;
}

Bytes
marshal_private(const TPM2B_PRIVATE& priv)
{
  Bytes out(sizeof(TPM2B_PRIVATE));
  size_t offset = 0;
  check_rc(Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, out.data(), out.size(), &offset),
           "Tss2_MU_TPM2B_PRIVATE_Marshal");
  out.resize(offset);
  return out;
}

TPM2B_PUBLIC
unmarshal_public(std::span<const uint8_t> data)
{
  TPM2B_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(data.data(), data.size(), &offset, &pub) != TSS2_RC_SUCCESS
      || offset != data.size()) {
    throw Error(Reason::k_store, "a TPM2B_PUBLIC blob in the store is malformed");
  }
  return pub;
}

TPM2B_PRIVATE
unmarshal_private(std::span<const uint8_t> data)
{
  TPM2B_PRIVATE priv{};
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(data.data(), data.size(), &offset, &priv) != TSS2_RC_SUCCESS
      || offset != data.size()) {
    throw Error(Reason::k_store, "a TPM2B_PRIVATE blob in the store is malformed");
  }
  return priv;
}

bool
AlgorithmSet::has(TPM2_ALG_ID alg) const
{
  return std::find(algs.begin(), algs.end(), alg) != algs.end();
}

AlgorithmSet
get_algorithms(ESYS_CONTEXT* ctx)
{
  AlgorithmSet set;
  UINT32 next = TPM2_ALG_FIRST;
  TPMI_YES_NO more = TPM2_YES;
  while (more == TPM2_YES) {
    TPMS_CAPABILITY_DATA* raw = nullptr;
    check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS, next,
                                TPM2_MAX_CAP_ALGS, &more, &raw),
             "TPM2_GetCapability(algorithms)");
    EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
    const auto& list = data->data.algorithms;
    if (list.count == 0) {
      break;
    }
    for (UINT32 i = 0; i < list.count; ++i) {
      set.algs.push_back(list.algProperties[i].alg);
    }
    next = list.algProperties[list.count - 1].alg + 1U;
  }
  return set;
}

std::vector<TPM2_HANDLE>
persistent_handles(ESYS_CONTEXT* ctx)
{
  std::vector<TPM2_HANDLE> out;
  TPM2_HANDLE next = TPM2_PERSISTENT_FIRST;
  TPMI_YES_NO more = TPM2_YES;
  while (more == TPM2_YES) {
    TPMS_CAPABILITY_DATA* raw = nullptr;
    check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                next, TPM2_MAX_CAP_HANDLES, &more, &raw),
             "TPM2_GetCapability(handles)");
    EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
    const auto& list = data->data.handles;
    for (UINT32 i = 0; i < list.count; ++i) {
      if (list.handle[i] <= TPM2_PERSISTENT_LAST) {
        out.push_back(list.handle[i]);
      }
    }
    if (list.count == 0 || list.handle[list.count - 1] >= TPM2_PERSISTENT_LAST) {
      break;
    }
    next = list.handle[list.count - 1] + 1;
  }
  return out;
}

} // namespace ptool::tpm
