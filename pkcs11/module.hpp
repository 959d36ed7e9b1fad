// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

#include <openssl/evp.h>

#include "core/error.hpp"
#include "core/model.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/token_ops.hpp"
#include "pkcs11/mechanisms.hpp"
#include "pkcs11/object_table.hpp"
#include "pkcs11/p11.hpp"
#include "store/store.hpp"

namespace ptool::p11 {

// One token of the store = one slot (slot id = tokens.id), plus one uninitialized slot for
// C_InitToken (docs/pkcs11-tokens.md): an uninitialized tokens row (addemptytoken), else a
// spare that exists only in memory (`spare`) at the next free id. The TPM side
// (ESYS context, primary, salted session) exists only from the first login or private-key
// operation until logout / the last session closes / C_Finalize.
struct TokenState
{
  Token token;        // token.config.token_init false: the uninitialized slot
  bool spare = false; // the uninitialized slot that has no tokens row (yet)
  bool user_pin_set = false;
  enum class Login { k_none, k_user, k_so } login = Login::k_none;
  SecureBytes wrapping_key;     // set while unsealed (login or empty-user-pin)
  std::optional<bool> pss_good; // from the config, else probed once
  ObjectTable objects;          // store rows as of the last read (parsed on first use)
  // Declared in construction order: pc uses esys, so it is destroyed first.
  std::unique_ptr<tpm::EsysContext> esys;
  std::unique_ptr<tpm::PrimaryContext> pc;
  // Keys loaded in the TPM, shared by the token's sessions (a TPM without resource manager
  // holds only ~3 objects); flushed at logout, when the last session closes, at C_Finalize.
  // Declared after pc and esys so they are flushed first.
  std::map<int64_t, tpm::TpmObject> loaded;
  std::map<int64_t, uint64_t> last_use;
  uint64_t use_counter = 0;
  std::optional<std::string> tcti; // what the TPM side was last opened with

  bool private_visible() const { return login == Login::k_user || token.config.empty_user_pin; }
};

// A sign / verify / encrypt / decrypt / digest operation between its Init and its final call.
struct Operation
{
  enum class Kind { k_none, k_sign, k_verify, k_decrypt, k_encrypt, k_digest } kind = Kind::k_none;
  const Mechanism* mech = nullptr;
  int64_t key = 0;
  std::string_view pss_md; // PSS / OAEP hash (from the parameters)
  size_t salt_len = 0;
  Bytes label;                       // OAEP label
  Bytes data;                        // collected by the Update calls
  std::optional<SecureBytes> result; // decrypt output kept while the caller's buffer is short
  // CKA_ALWAYS_AUTHENTICATE keys: the PIN must be given again (C_Login CKU_CONTEXT_SPECIFIC)
  // between the Init call and the operation itself.
  bool needs_context_login = false;
  bool context_login_done = false;
  // AES: the chaining value (IV / counter) for the next TPM call, the bytes of an
  // incomplete block held back between Update calls, and whether Update was used.
  Bytes iv;
  SecureBytes pending;
  unsigned ctr_bits = 0; // CKM_AES_CTR: counter bits of the IV
  bool multi = false;
  bool single = false;
  // C_Digest*: the running OpenSSL digest (shared_ptr: Operation stays copyable).
  std::shared_ptr<EVP_MD_CTX> md_ctx;
};

struct Session
{
  CK_SESSION_HANDLE handle = 0;
  CK_SLOT_ID slot = 0;
  CK_FLAGS flags = 0;
  bool finding = false;
  std::vector<CK_OBJECT_HANDLE> found;
  size_t found_pos = 0;
  Operation op;
};

// All module state, guarded by one mutex (entry.cpp holds it for the whole call).
class Module
{
public:
  // Slots offered at most (upstream's MAX_TOKEN_CNT, and its store's limit_tokens trigger):
  // the spare uninitialized slot only while the store has fewer tokens.
  static constexpr size_t k_max_tokens = 255;
  // Sessions one token may have open at a time (read-only and read-write together), as
  // upstream's MAX_NUM_OF_SESSIONS; the next C_OpenSession answers CKR_SESSION_COUNT.
  static constexpr size_t k_max_sessions = 1024;
  // ulMaxPinLen: a new PIN (C_InitToken, C_InitPIN, C_SetPIN) longer than this is
  // CKR_PIN_LEN_RANGE. C_Login takes any length (a PIN set by tpm2-ptool may be longer).
  static constexpr size_t k_max_pin_len = 128;

  static Module& instance();
  std::mutex& mutex() { return m_mutex; }

  // C_Initialize / C_Finalize bodies (mutex held).
  void initialize();
  void finalize();
  // For a host that exits (or unloads us) while initialized, without C_Finalize, as OpenSSL's
  // pkcs11 engine does: flushes the loaded keys and HMAC sessions, which a TPM without a
  // resource manager (swtpm, /dev/tpm0) would otherwise keep until reset. Not for tabrmd
  // tokens (the resource manager flushes them when the connection goes, and D-Bus may be
  // gone at exit), not in a forked child, and not while another thread is in a call.
  void release_at_exit() noexcept;
  // Throws CKR_CRYPTOKI_NOT_INITIALIZED unless initialized in this process. A child after
  // fork() sees the parent's state as gone: it must call C_Initialize itself.
  void check_initialized();
  bool initialized() const { return m_initialized && m_pid == ::getpid(); }

  // Store reads. refresh_tokens: the token list (keeps login state of known tokens).
  void refresh_tokens();
  void refresh_objects(TokenState& ts);
  store::Store open_store() const;

  TokenState& token(CK_SLOT_ID slot); // CKR_SLOT_ID_INVALID when unknown
  std::map<CK_SLOT_ID, TokenState>& tokens() { return m_tokens; }

  Session& session(CK_SESSION_HANDLE h); // CKR_SESSION_HANDLE_INVALID when unknown
  Session& open_session(CK_SLOT_ID slot, CK_FLAGS flags);
  void close_session(CK_SESSION_HANDLE h);
  void close_sessions_of(CK_SLOT_ID slot);
  size_t session_count(CK_SLOT_ID slot, bool rw_only) const;

  // The store row behind `handle` if the session may see it, else CKR_OBJECT_HANDLE_INVALID.
  const Object& object(Session& s, CK_OBJECT_HANDLE handle);
  // The same for the key of a C_*Init call: CKR_KEY_HANDLE_INVALID when unknown,
  // CKR_USER_NOT_LOGGED_IN for a private key before login (as upstream answers).
  const Object& key(Session& s, CK_OBJECT_HANDLE handle);

  // The TCTI a token's TPM side is opened with (TPM2_PKCS11_TCTI, else the store's tcti when
  // allowed, else the default), and the owner hierarchy auth (TPM2_PKCS11_OWNER_AUTH).
  static std::optional<std::string> tcti_for(const Token& token);
  static SecureBytes owner_auth();
  // TPM side of a token, opened on first use.
  tpm::PrimaryContext& tpm(TokenState& ts);
  // Unseals the wrapping key with `pin` (SO or user seal object).
  void unseal(TokenState& ts, std::span<const uint8_t> pin, bool so);
  // Flushes every key loaded for the token, wipes the key, closes the TPM side.
  void logout(TokenState& ts);
  // The key loaded in the TPM for `obj` (its auth set), loading it on first use. When the
  // TPM is out of object slots, the least recently used keys are flushed and it retries.
  ESYS_TR load_key(TokenState& ts, const Object& obj);
  bool pss_good(TokenState& ts);

  // Runs `op` (TPM work for `ts`). When the TPM is lost (tpm::is_lost_tpm: transport or TCTI
  // failure, TPM reset or restart), the TPM side is dropped and reopened and `op` runs once
  // more: it reloads the primary and keys, with the auth kept in memory. When that fails too,
  // the token is logged out (the next C_Login starts afresh) and `gone` thrown
  // (CKR_DEVICE_REMOVED; C_Login, which had nothing to lose, says CKR_DEVICE_ERROR).
  template<typename F>
  auto with_tpm(TokenState& ts, F&& op, CK_RV gone = CKR_DEVICE_REMOVED) -> decltype(op());
  // Forgets the token's TPM side without flushing anything (the handles are gone).
  void drop_tpm(TokenState& ts) noexcept;

private:
  const Object& lookup(Session& s, CK_OBJECT_HANDLE handle, CK_RV unknown, CK_RV hidden);
  void drop_all() noexcept;
  void abandon_after_fork() noexcept;
  // Lets go of `ts`'s TPM side (loaded keys, primary context, ESAPI context) without a TPM
  // command: leaked on purpose, for a forked child (the handles are the parent's) and for
  // tabrmd tokens at exit.
  static void abandon_tpm(TokenState& ts) noexcept;

  std::mutex m_mutex;
  bool m_initialized = false;
  pid_t m_pid = 0;
  std::map<CK_SLOT_ID, TokenState> m_tokens;
  std::map<CK_SESSION_HANDLE, Session> m_sessions;
  CK_SESSION_HANDLE m_next_session = 1;
};

template<typename F>
auto
Module::with_tpm(TokenState& ts, F&& op, CK_RV gone) -> decltype(op())
{
  try {
    return op();
  } catch (const Error& e) {
    if (!tpm::is_lost_tpm(e)) {
      throw;
    }
    log(LogLevel::k_warn, "token " + std::to_string(ts.token.id) + ": TPM lost (" + e.what()
                            + "); reopening it and retrying once");
  }
  drop_tpm(ts);
  try {
    return op();
  } catch (const Error& e) {
    if (!tpm::is_lost_tpm(e)) {
      throw;
    }
    // An unreachable TPM is the one failure logged by default (ssh shows nothing else).
    if (e.code() == ExitCode::k_tcti) {
      log(LogLevel::k_error, std::string(e.what()) + " (token " + std::to_string(ts.token.id)
                               + " logged out: log in again once the TPM is back)");
    } else {
      log(LogLevel::k_warn, "token " + std::to_string(ts.token.id) + ": TPM still unusable ("
                              + e.what() + "); logged out, log in again once it is back");
    }
  }
  drop_tpm(ts);
  logout(ts);
  fail(gone);
}

} // namespace ptool::p11
