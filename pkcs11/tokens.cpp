// SPDX-License-Identifier: BSD-2-Clause
// Token and PIN management: C_InitToken on the uninitialized slot, C_InitPIN, C_SetPIN
// (docs/pkcs11-tokens.md). Each stores what it made exactly as the CLI's addtoken, initpin
// and changepin do, in one transaction, after the TPM work succeeded.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "core/tpm/default_primary.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/token_ops.hpp"
#include "core/token/seals.hpp"
#include "format/utf8.hpp"
#include "pkcs11/api.hpp"

namespace ptool::p11 {

namespace {

// What the CLI allows for a token label (addtoken): 31 bytes survive upstream's 32-byte
// label buffer.
constexpr size_t k_max_label = 31;

// The label of C_InitToken's 32 blank-padded bytes, trailing blanks dropped (as upstream);
// nullopt (logged) when the CLI would refuse it.
std::optional<std::string>
init_label(const CK_UTF8CHAR* field)
{
  std::string label(reinterpret_cast<const char*>(field), 32);
  label.erase(label.find_last_not_of(' ') + 1);
  std::string why;
  if (label.empty()) {
    why = "the label is blank";
  } else if (label.size() > k_max_label) {
    why = "the label has 32 bytes; at most 31 fit in the store (pad it with a blank)";
  } else if (format::first_invalid_utf8(label) || label.find('\0') != std::string::npos) {
    why = "the label is not UTF-8 text";
  }
  if (!why.empty()) {
    log(LogLevel::k_warn, "C_InitToken refused: " + why);
    return std::nullopt;
  }
  return label;
}

SecureBytes
secret(const CK_UTF8CHAR* p, CK_ULONG len)
{
  return SecureBytes(p, p + (p ? len : 0));
}

// pss-sigs-good is a property of the TPM: a token already under the primary has the answer
// (addtoken's rule), which saves the probe's TPM commands.
std::optional<bool>
known_pss_sigs_good(const store::Store& st, int64_t pid)
{
  for (const Token& t : st.tokens_skipping([](const Error&) {})) {
    if (t.pid == pid && t.config.token_init && t.config.pss_sigs_good) {
      return t.config.pss_sigs_good;
    }
  }
  return std::nullopt;
}

// The store for C_InitPIN's and C_SetPIN's write: it must exist.
store::Store
writable_store()
{
  return store::Store::open(store::locate(std::nullopt), store::Store::Mode::k_existing);
}

// Answers a wrong PIN or the TPM's lockout with its CK_RV; anything else goes on.
template<typename F>
CK_RV
pin_checked(F&& f)
{
  try {
    f();
  } catch (const Error& e) {
    if (e.code() == ExitCode::k_auth) {
      log(LogLevel::k_info, std::string("PIN refused: ") + e.what());
      return rv_of(e.reason());
    }
    throw;
  }
  return CKR_OK;
}

// The seal row as it is now, inside the write's transaction: another process (changepin,
// initpin, rmtoken) may have changed it since it was read, and then nothing is written.
void
recheck_seal(const store::Store& st, int64_t tokid, const SealObject& used)
{
  auto same = [](const SealBlobs& a, const SealBlobs& b) {
    return a.pub == b.pub && a.priv == b.priv && a.salt == b.salt;
  };
  std::optional<SealObject> now = st.seal_object(tokid);
  bool ok = now && now->id == used.id && same(now->so, used.so)
            && now->user.has_value() == used.user.has_value()
            && (!now->user || same(*now->user, *used.user));
  if (!ok) {
    log(LogLevel::k_warn, "token " + std::to_string(tokid)
                            + ": its seal objects changed in the store meanwhile; nothing written");
    fail(CKR_FUNCTION_FAILED);
  }
}

// initpin's and changepin's store write for a new user seal (store_user_seal in the CLI).
void
store_user_seal(store::Store& st, TokenState& ts, const SealBlobs& blobs, bool pin_empty)
{
  st.update_seal_user(ts.token.id, blobs);
  if (ts.token.config.empty_user_pin != pin_empty) {
    TokenConfig config = ts.token.config;
    config.empty_user_pin = pin_empty;
    st.update_token_config(ts.token.id, config);
  }
}

} // namespace

CK_RV
init_token(Module& m, CK_SLOT_ID slot, CK_UTF8CHAR_PTR so_pin, CK_ULONG so_pin_len,
           CK_UTF8CHAR_PTR label_field)
{
  if (!so_pin || !label_field) {
    return CKR_ARGUMENTS_BAD;
  }
  TokenState& ts = m.token(slot);
  if (ts.token.config.token_init) {
    // Re-initializing would destroy the token's keys; upstream refuses it the same way.
    log(LogLevel::k_warn, "C_InitToken refused: token " + std::to_string(ts.token.id)
                            + " is already initialized and holds its keys; to change its PINs "
                              "use C_SetPIN / C_InitPIN or 'tpm2-ptool changepin', or pick the "
                              "uninitialized slot for a new token");
    return CKR_ARGUMENTS_BAD;
  }
  if (m.session_count(slot, false) != 0) {
    return CKR_SESSION_EXISTS;
  }
  std::optional<std::string> label = init_label(label_field);
  if (!label) {
    return CKR_ARGUMENTS_BAD;
  }
  if (so_pin_len > Module::k_max_pin_len) {
    return CKR_PIN_LEN_RANGE;
  }
  SecureBytes sopin = secret(so_pin, so_pin_len);

  // A store that does not exist yet is created only once the TPM work succeeded, so a
  // failure leaves nothing behind.
  std::filesystem::path dir = store::locate(std::nullopt);
  std::optional<store::Store> st;
  if (std::filesystem::exists(dir / store::k_db_name)) {
    st.emplace(store::Store::open(dir, store::Store::Mode::k_existing));
    if (st->token_by_label(*label)) {
      log(LogLevel::k_warn, "C_InitToken refused: a token labeled \"" + *label + "\" exists");
      return CKR_ARGUMENTS_BAD;
    }
  }
  // The primary: the uninitialized row's (addemptytoken), else the store's first, else the
  // one a plain `tpm2-ptool init` makes (an identical one at 0x81000001 is reused).
  std::optional<Primary> primary;
  if (!ts.spare) {
    primary = st ? st->primary(ts.token.pid) : std::nullopt;
    if (!primary) {
      fail(CKR_DEVICE_ERROR);
    }
  } else if (st) {
    std::vector<Primary> all = st->primaries();
    if (!all.empty()) {
      primary = *std::min_element(all.begin(), all.end(),
                                  [](const Primary& a, const Primary& b) { return a.id < b.id; });
    }
  }
  SecureBytes owner = Module::owner_auth();
  tpm::EsysContext ctx(Module::tcti_for(ts.token));
  tpm::DefaultPrimary made;
  if (!primary) {
    tpm::default_primary(ctx.get(), owner, made);
    primary.emplace();
    primary->esys_tr = made.esys_tr;
    log(LogLevel::k_info,
        std::string("C_InitToken: ")
          + (made.adopted ? "adopted the primary at 0x81000001" : "created a persistent primary"));
  }
  std::optional<bool> pss =
    primary->id && st ? known_pss_sigs_good(*st, primary->id) : std::nullopt;
  bool pss_good = pss ? *pss : tpm::pss_sigs_good(ctx.get());
  tpm::PrimaryContext pc(ctx.get(), *primary, owner);
  SealObject seal;
  seal.so = token::create_so_seal(pc, sopin, true);

  Token token;
  token.pid = primary->id;
  token.label = *label;
  token.config.token_init = true;
  token.config.pss_sigs_good = pss_good;
  token.config.empty_user_pin = false;
  if (!st) {
    st.emplace(store::Store::open(dir, store::Store::Mode::k_read_write));
  }
  {
    store::Transaction tx(*st);
    if (!token.pid) {
      token.pid = st->insert_primary(*primary);
    }
    seal.tokid = st->insert_token(token);
    st->insert_seal_object(seal);
    tx.commit();
  }
  if (made.created) {
    made.created->commit();
  }
  log(LogLevel::k_info, "C_InitToken: token " + std::to_string(seal.tokid) + " \"" + *label
                          + "\" made (no user PIN yet: C_InitPIN)");
  if (static_cast<CK_SLOT_ID>(seal.tokid) != slot) {
    log(LogLevel::k_warn, "C_InitToken: another process added a token meanwhile; the new token "
                          "is slot "
                            + std::to_string(seal.tokid));
  }
  m.refresh_tokens();
  return CKR_OK;
}

CK_RV
init_pin(Module& m, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
  if (!pin && pin_len) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  // PKCS#11 2.40: only in the "R/W SO Functions" state (the SO logs in read-write only).
  if (ts.login != TokenState::Login::k_so) {
    return CKR_USER_NOT_LOGGED_IN;
  }
  if (pin_len > Module::k_max_pin_len) {
    return CKR_PIN_LEN_RANGE;
  }
  SecureBytes userpin = secret(pin, pin_len);
  store::Store st = writable_store();
  std::optional<SealObject> seal = st.seal_object(ts.token.id);
  if (!seal) {
    fail(CKR_GENERAL_ERROR);
  }
  // The SO's login holds the wrapping key: seal it under the new user PIN.
  SealBlobs user = m.with_tpm(
    ts, [&] { return token::seal_wrapping_key(m.tpm(ts), ts.wrapping_key, userpin, false); });
  store::Transaction tx(st);
  recheck_seal(st, ts.token.id, *seal);
  store_user_seal(st, ts, user, userpin.empty());
  tx.commit();
  ts.user_pin_set = true;
  ts.token.config.empty_user_pin = userpin.empty();
  log(LogLevel::k_info, "C_InitPIN: token " + std::to_string(ts.token.id) + " has a new user PIN");
  return CKR_OK;
}

CK_RV
set_pin(Module& m, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
        CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
  if ((!old_pin && old_len) || (!new_pin && new_len)) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  TokenState& ts = m.token(s.slot);
  // PKCS#11 2.40: R/W sessions only. The SO's PIN while the SO is logged in, else the user's
  // (logged in or not), as upstream.
  if (!(s.flags & CKF_RW_SESSION)) {
    return CKR_SESSION_READ_ONLY;
  }
  if (!ts.token.config.token_init) {
    return CKR_USER_PIN_NOT_INITIALIZED;
  }
  if (new_len > Module::k_max_pin_len) {
    return CKR_PIN_LEN_RANGE;
  }
  const bool so = ts.login == TokenState::Login::k_so;
  SecureBytes oldpin = secret(old_pin, old_len);
  SecureBytes newpin = secret(new_pin, new_len);
  store::Store st = writable_store();
  std::optional<SealObject> seal = st.seal_object(ts.token.id);
  if (!seal) {
    fail(CKR_GENERAL_ERROR);
  }
  if (!so && !seal->user) {
    return CKR_USER_PIN_NOT_INITIALIZED;
  }
  const SealBlobs& blobs = so ? seal->so : *seal->user;
  SealBlobs updated;
  // Logged in, the token's TPM session stays for its keys; not logged in, the TPM side is
  // closed again afterwards (nothing else needs it).
  const bool keep = !ts.wrapping_key.empty();
  CK_RV rv = pin_checked([&] {
    updated =
      m.with_tpm(ts, [&] { return token::change_pin(m.tpm(ts), blobs, oldpin, newpin, false); });
  });
  if (!keep) {
    m.logout(ts);
  }
  if (rv != CKR_OK) {
    return rv;
  }
  store::Transaction tx(st);
  recheck_seal(st, ts.token.id, *seal);
  if (so) {
    st.update_seal_so(ts.token.id, updated);
  } else {
    store_user_seal(st, ts, updated, newpin.empty());
    ts.token.config.empty_user_pin = newpin.empty();
  }
  tx.commit();
  log(LogLevel::k_info, std::string("C_SetPIN: token ") + std::to_string(ts.token.id) + "'s "
                          + (so ? "SO" : "user") + " PIN changed");
  return CKR_OK;
}

} // namespace ptool::p11
