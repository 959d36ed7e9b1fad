// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

namespace ptool::tpm {

// What a failed TPM command means for the user; picks the hint check_rc prints.
enum class AuthKind {
  k_none,      // no secret involved
  k_pin,       // a token PIN (seal object auth)
  k_hierarchy, // owner hierarchy auth (--hierarchy-auth)
  k_primary,   // the primary object's auth (--primary-auth / pobjects.objauth)
};

// The Error check_rc throws, with the TSS2 response code it decoded.
class TpmError : public Error
{
public:
  TpmError(TSS2_RC rc, Reason reason, std::string message, std::string hint = {})
      : Error(reason, std::move(message), std::move(hint)), m_rc(rc)
  {}
  TSS2_RC rc() const { return m_rc; }

private:
  TSS2_RC m_rc;
};

// True when `e` means the TPM connection or the TPM's state behind it is gone: a transport or
// TCTI failure, TPM_RC_INITIALIZE, ESYS's "called in the wrong order" after such a failure,
// or handles / sessions the TPM no longer knows (TPM_RC_HANDLE, TPM_RC_REFERENCE_*) after a
// TPM reset. Reopening the context and reloading the objects may help (the PKCS#11 module).
bool is_lost_tpm(const Error& e);

// Throws ptool::Error (TpmError) when `rc` is not success: the message names `what` and the decoded
// code (Tss2_RC_Decode); the exit code and hint come from one table (auth failure, lockout,
// TCTI unreachable, unsupported parameters, out of TPM memory).
void check_rc(TSS2_RC rc, const char* what, AuthKind auth = AuthKind::k_none);

// The Reason check_rc gives a failed `rc`: wrong auth (TPM_RC_AUTH_FAIL, TPM_RC_BAD_AUTH),
// lockout, TPM full (object / session memory or handles), unreachable (TCTI and transport
// failures, TPM_RC_INITIALIZE), unsupported (command code, algorithm parameters), else general.
Reason reason_of_rc(TSS2_RC rc);

// True when `e` is the TPM's dictionary-attack lockout (Reason::k_lockout) rather than a
// wrong auth value; both have ExitCode::k_auth.
bool is_lockout(const Error& e);

// True when `e` (Reason::k_tpm_full) says the TPM is out of object or session memory or handles
// (TPM_RC_OBJECT_MEMORY, TPM_RC_SESSION_MEMORY, …): never a sign of an evicted or cleared
// object.
bool is_tpm_full(const Error& e);

// True when `rc` is a TPM parameter error that means "this TPM cannot do that algorithm"
// (key size, curve, scheme, symmetric, hash, value).
bool is_unsupported_parameter(TSS2_RC rc);

// Which TCTI to use: the --tcti option, else TPM2_PKCS11_TCTI, else TPM2TOOLS_TCTI, else
// nullopt (tctildr's default probing).
std::optional<std::string> resolve_tcti(const std::optional<std::string>& option);

// Where a resolved TCTI string came from, for messages: "TPM2_PKCS11_TCTI",
// "TPM2TOOLS_TCTI", "--tcti" (given explicitly), or "default" (nullopt: tctildr probes).
std::string tcti_source(const std::optional<std::string>& resolved);

// The CLI (single-threaded at that point) asks for the TCTI loader's own noise on stderr
// (GLib criticals from the tabrmd TCTI, tctildr's ERROR lines) to be swallowed while a TCTI
// is opened; our one-line error says what failed. Never set by the PKCS#11 module: it may
// not touch the host's file descriptors.
void set_quiet_tcti_init(bool quiet);

// Whether a TCTI string read from the store may be used: the store is untrusted, and a
// tctildr string names a library to load (a path loads any file) or, for `cmd`, a program to
// run. Accepted: a known name (device, tabrmd, swtpm, mssim) with no '/', optionally followed
// by ':' and its configuration (which may hold slashes: device:/dev/tpmrm0).
bool is_allowed_store_tcti(std::string_view tcti);

// Owns a TCTI context and the ESYS_CONTEXT on top of it; finalizes ESYS before the TCTI.
class EsysContext
{
public:
  explicit EsysContext(const std::optional<std::string>& tcti);
  ~EsysContext();
  EsysContext(const EsysContext&) = delete;
  EsysContext& operator=(const EsysContext&) = delete;

  ESYS_CONTEXT* get() const { return m_ctx; }
  const std::string& tcti_name() const { return m_tcti_name; }

private:
  TSS2_TCTI_CONTEXT* m_tcti = nullptr;
  ESYS_CONTEXT* m_ctx = nullptr;
  std::string m_tcti_name;
};

// A move-only ESYS_TR. On destruction transient objects and sessions are flushed from the
// TPM (Drop::k_flush); persistent objects are only closed in ESYS (Drop::k_close).
class TpmObject
{
public:
  enum class Drop { k_flush, k_close };

  TpmObject() = default;
  TpmObject(ESYS_CONTEXT* ctx, ESYS_TR tr, Drop drop) : m_ctx(ctx), m_tr(tr), m_drop(drop) {}
  TpmObject(TpmObject&& o) noexcept
      : m_ctx(o.m_ctx), m_tr(std::exchange(o.m_tr, ESYS_TR_NONE)), m_drop(o.m_drop)
  {}
  TpmObject& operator=(TpmObject&& o) noexcept;
  TpmObject(const TpmObject&) = delete;
  TpmObject& operator=(const TpmObject&) = delete;
  ~TpmObject() { reset(); }

  ESYS_TR
  get() const { return m_tr; }
  explicit operator bool() const { return m_tr != ESYS_TR_NONE; }
  // Gives up ownership without touching the TPM (after EvictControl, or when the TPM has
  // already dropped the handle, e.g. a session whose continueSession bit was cleared).
  ESYS_TR
  release() { return std::exchange(m_tr, ESYS_TR_NONE); }
  void reset();

private:
  ESYS_CONTEXT* m_ctx = nullptr;
  ESYS_TR m_tr = ESYS_TR_NONE;
  Drop m_drop = Drop::k_flush;
};

// A salted HMAC session (SHA-256) with AES-128-CFB parameter encryption. The salt is
// encrypted to `tpm_key`'s public key, so PINs, auth values and unsealed secrets cross the
// TPM bus encrypted. Flushed on destruction unless the TPM already closed it.
class Session
{
public:
  Session(ESYS_CONTEXT* ctx, ESYS_TR tpm_key);
  ESYS_TR
  get() const { return m_obj.get(); }
  // Selects parameter encryption for the next command: `decrypt` encrypts the command's
  // first parameter, `encrypt` the response's.
  void use_for(bool decrypt, bool encrypt);
  // Clears continueSession for the next command, so the TPM flushes the session itself and
  // saves a FlushContext round trip. Call finished() once that command succeeded.
  void last_use();
  void finished() { m_obj.release(); }

private:
  ESYS_CONTEXT* m_ctx;
  TpmObject m_obj;
  bool m_continue = true;
};

// Sets the auth value of an ESYS_TR, wiping the temporary TPM2B.
void set_auth(ESYS_CONTEXT* ctx, ESYS_TR tr, std::span<const uint8_t> auth);

// Serialized ESYS_TR (Esys_TR_Serialize) and back.
Bytes serialize_tr(ESYS_CONTEXT* ctx, ESYS_TR tr);
TpmObject deserialize_tr(ESYS_CONTEXT* ctx, std::span<const uint8_t> data);
// The TPM handle inside a serialized ESYS_TR (its first 4 bytes, big endian); 0 when the
// blob is too short. No TPM command.
TPM2_HANDLE handle_of_serialized_tr(std::span<const uint8_t> esys_tr);

// Marshalled TPM2B_PUBLIC / TPM2B_PRIVATE (size prefix included) and back.
Bytes marshal_public(const TPM2B_PUBLIC& pub);
Bytes marshal_private(const TPM2B_PRIVATE& priv);
TPM2B_PUBLIC unmarshal_public(std::span<const uint8_t> data);
TPM2B_PRIVATE unmarshal_private(std::span<const uint8_t> data);

// Algorithms the TPM implements (one TPM2_GetCapability).
struct AlgorithmSet
{
  std::vector<TPM2_ALG_ID> algs;
  bool has(TPM2_ALG_ID alg) const;
};
AlgorithmSet get_algorithms(ESYS_CONTEXT* ctx);

// Handles of the TPM's persistent objects (0x81000000-0x81ffffff), ascending.
std::vector<TPM2_HANDLE> persistent_handles(ESYS_CONTEXT* ctx);

} // namespace ptool::tpm
