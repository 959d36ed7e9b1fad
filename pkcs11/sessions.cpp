// SPDX-License-Identifier: BSD-2-Clause
// Sessions and login. Login state belongs to the token (shared by all sessions of the
// application), as PKCS#11 specifies.
#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
open_session(Module& m, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out)
{
  if (!out) {
    return CKR_ARGUMENTS_BAD;
  }
  if (!(flags & CKF_SERIAL_SESSION)) {
    return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
  }
  TokenState& ts = m.token(slot);
  if (m.session_count(slot, false) >= Module::k_max_sessions) {
    return CKR_SESSION_COUNT;
  }
  // PKCS#11 §5.6: while the SO is logged in, only read-write sessions can be opened.
  if (ts.login == TokenState::Login::k_so && !(flags & CKF_RW_SESSION)) {
    return CKR_SESSION_READ_WRITE_SO_EXISTS;
  }
  *out = m.open_session(slot, flags).handle;
  return CKR_OK;
}

CK_RV
close_session(Module& m, CK_SESSION_HANDLE h)
{
  m.close_session(h);
  return CKR_OK;
}

CK_RV
close_all_sessions(Module& m, CK_SLOT_ID slot)
{
  m.token(slot);
  m.close_sessions_of(slot);
  return CKR_OK;
}

CK_RV
get_session_info(Module& m, CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
  if (!info) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  bool rw = s.flags & CKF_RW_SESSION;
  info->slotID = s.slot;
  info->flags = s.flags;
  info->ulDeviceError = 0;
  switch (ts.login) {
  case TokenState::Login::k_so:
    // The SO logs in only when every session is read-write (see login()).
    info->state = rw ? CKS_RW_SO_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
    break;
  case TokenState::Login::k_user:
    info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    break;
  case TokenState::Login::k_none:
    info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    break;
  }
  return CKR_OK;
}

CK_RV
login(Module& m, CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
  if (!pin && pin_len) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  using L = TokenState::Login;
  if (user == CKU_CONTEXT_SPECIFIC) {
    // Re-authentication for one operation: check the PIN again.
    if (ts.login != L::k_user) {
      return CKR_USER_NOT_LOGGED_IN;
    }
    if (s.op.kind == Operation::Kind::k_none) {
      return CKR_OPERATION_NOT_INITIALIZED;
    }
  } else if (user != CKU_USER && user != CKU_SO) {
    return CKR_USER_TYPE_INVALID;
  } else if (ts.login != L::k_none) {
    return (ts.login == L::k_user) == (user == CKU_USER) ? CKR_USER_ALREADY_LOGGED_IN
                                                         : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
  }
  bool so = user == CKU_SO;
  if (!ts.token.config.token_init) {
    return CKR_USER_PIN_NOT_INITIALIZED; // the uninitialized slot: no PIN to check yet
  }
  // PKCS#11 §5.6 (and upstream's library): the SO works in read-write sessions only, so an
  // SO login is refused while any read-only session of the token is open.
  if (so && m.session_count(s.slot, false) != m.session_count(s.slot, true)) {
    return CKR_SESSION_READ_ONLY_EXISTS;
  }
  try {
    m.unseal(ts, std::span<const uint8_t>(pin, pin ? pin_len : 0), so);
  } catch (const Error& e) {
    log(LogLevel::k_info, std::string("login failed: ") + e.what());
    if (ts.wrapping_key.empty()) {
      m.logout(ts); // close the TPM again: nothing else needs it
    }
    if (e.code() == ExitCode::k_auth) {
      return rv_of(e.reason()); // a wrong PIN or the TPM's lockout
    }
    throw;
  }
  if (user == CKU_CONTEXT_SPECIFIC) {
    s.op.context_login_done = true;
  } else {
    ts.login = so ? L::k_so : L::k_user;
  }
  log(LogLevel::k_info,
      std::string(so ? "SO" : "user") + " logged in to token " + std::to_string(ts.token.id));
  return CKR_OK;
}

CK_RV
logout(Module& m, CK_SESSION_HANDLE h)
{
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  if (ts.login == TokenState::Login::k_none) {
    return CKR_USER_NOT_LOGGED_IN;
  }
  m.logout(ts);
  return CKR_OK;
}

} // namespace ptool::p11
