// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/module.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sys/prctl.h>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/stale.hpp"
#include "core/token/seals.hpp"
#include "store/upgrade.hpp"

namespace ptool::p11 {

Module&
Module::instance()
{
  // Never destroyed: a host may call into us from atexit handlers after static destruction.
  static Module* module = new Module(); // NOLINT(cppcoreguidelines-owning-memory)
  return *module;
}

void
Module::initialize()
{
  if (m_initialized && m_pid != ::getpid()) {
    abandon_after_fork();
  }
  if (m_initialized) {
    fail(CKR_CRYPTOKI_ALREADY_INITIALIZED);
  }
  log_init();
  // The environment is the host's: no setenv() here (another thread of the host may be in
  // getenv()). tpm2-tss 3.2 reads TSS2_LOG itself and has no call to set its level, so its
  // own error lines on stderr stay as the user's TSS2_LOG says (docs/reliability.md).
  m_initialized = true;
  m_pid = ::getpid();
  log(LogLevel::k_debug, "C_Initialize (store and TPM not touched yet)");
}

void
Module::finalize()
{
  drop_all();
  m_initialized = false;
  log(LogLevel::k_debug, "C_Finalize");
}

void
Module::release_at_exit() noexcept
{
  std::unique_lock lock(m_mutex, std::try_to_lock);
  if (!lock.owns_lock() || !m_initialized || m_pid != ::getpid()) {
    return;
  }
  m_sessions.clear();
  for (auto& [slot, ts] : m_tokens) {
    if (ts.tcti && ts.tcti->starts_with("tabrmd")) {
      abandon_tpm(ts);
    }
  }
  drop_all();
  m_initialized = false;
  log(LogLevel::k_debug, "exit without C_Finalize: TPM objects flushed");
}

void
Module::check_initialized()
{
  if (m_initialized && m_pid != ::getpid()) {
    abandon_after_fork();
  }
  if (!m_initialized) {
    fail(CKR_CRYPTOKI_NOT_INITIALIZED);
  }
}

void
Module::drop_all() noexcept
{
  // Keys first (they live in the token's ESYS context), then the TPM side of each token.
  m_sessions.clear();
  for (auto& [slot, ts] : m_tokens) {
    ts.loaded.clear();
    ts.pc.reset();
    ts.esys.reset();
  }
  m_tokens.clear();
}

void
Module::abandon_after_fork() noexcept
{
  // The TPM handles belong to the parent: do not flush them from the child. Leak the
  // contexts on purpose and start from nothing.
  m_sessions.clear();
  for (auto& [slot, ts] : m_tokens) {
    abandon_tpm(ts);
  }
  m_tokens.clear();
  m_initialized = false;
}

void
Module::abandon_tpm(TokenState& ts) noexcept
{
  for (auto& [id, obj] : ts.loaded) {
    obj.release();
  }
  ts.loaded.clear();
  (void)ts.pc.release();
  (void)ts.esys.release();
}

store::Store
Module::open_store() const
{
  std::filesystem::path dir = store::locate(std::nullopt);
  try {
    return store::Store::open(dir, store::Store::Mode::k_read_only);
  } catch (const store::OldSchemaError& e) {
    // Upstream's module upgrades a schema 1-7 store when it opens it; so do we, with dbup's
    // upgrade: under the store's lock file (a concurrent dbup or module waits, then finds
    // version 8), on a .bak copy renamed over the database, never leaving a .old behind.
    // The store is untrusted here too: the upgrade checks its tables first and every
    // statement has the same step bound.
    log(LogLevel::k_info, std::string(e.what()) + ": upgrading it to schema 8, as dbup does");
    store::UpgradeResult r = store::upgrade_store(dir);
    log(LogLevel::k_info, "store upgraded from schema " + std::to_string(r.old_version) + " to "
                            + std::to_string(r.new_version));
  }
  return store::Store::open(dir, store::Store::Mode::k_read_only);
}

void
Module::refresh_tokens()
{
  std::optional<store::Store> st;
  std::vector<Token> rows;
  // The spare uninitialized slot is offered when C_InitToken could write a store: it exists
  // and reads fine, or it does not exist yet at the place the store is looked for. Never for
  // a store that cannot be read (crafted, unreadable) or when there is no store location.
  bool can_init = false;
  try {
    std::filesystem::path dir = store::locate(std::nullopt);
    std::error_code ec;
    if (!std::filesystem::exists(dir / store::k_db_name, ec) && !ec) {
      can_init = true;
    } else {
      st.emplace(open_store());
      can_init = true;
      rows = st->tokens_skipping(
        [](const Error& e) { log(LogLevel::k_warn, std::string("token skipped: ") + e.what()); });
    }
  } catch (const Error& e) {
    can_init = false;
    rows.clear();
    // A missing store is normal (info); a crafted or unreadable one is worth a warning. Either
    // way the store is ignored: no slots.
    log(e.code() == ExitCode::k_not_found ? LogLevel::k_info : LogLevel::k_warn,
        std::string("no store: ") + e.what() + (e.hint().empty() ? "" : " (" + e.hint() + ")"));
  }
  std::map<CK_SLOT_ID, bool> seen;
  bool have_uninit = false;
  int64_t max_id = 0;
  for (Token& t : rows) {
    max_id = std::max(max_id, t.id);
    auto slot = static_cast<CK_SLOT_ID>(t.id);
    bool user_pin = false;
    if (!t.config.token_init) {
      // addemptytoken's row: the uninitialized slot, as upstream shows it. Only the first.
      if (have_uninit) {
        continue;
      }
      have_uninit = true;
    } else {
      try {
        auto seal = st->seal_object(t.id);
        if (!seal) {
          log(LogLevel::k_warn, "token " + std::to_string(t.id) + " has no seal object; skipped");
          continue;
        }
        user_pin = seal->user.has_value();
      } catch (const Error& e) {
        log(LogLevel::k_warn, std::string("token skipped: ") + e.what());
        continue;
      }
    }
    TokenState& ts = m_tokens[slot];
    ts.token = std::move(t);
    ts.spare = false;
    ts.user_pin_set = user_pin;
    if (ts.token.config.pss_sigs_good) {
      ts.pss_good = ts.token.config.pss_sigs_good;
    }
    seen[slot] = true;
  }
  // Also next to addemptytoken's row: upstream offers both.
  if (can_init && rows.size() < k_max_tokens) {
    auto slot = static_cast<CK_SLOT_ID>(max_id + 1);
    auto old = m_tokens.find(slot);
    bool busy = old != m_tokens.end() && !old->second.spare && session_count(slot, false) != 0;
    // (A token removed from the store while sessions still use its slot keeps the slot.)
    TokenState& ts = m_tokens[slot];
    if (!ts.spare && !busy) {
      ts = TokenState{};
      ts.spare = true;
      ts.token.id = max_id + 1;
      ts.token.config.token_init = false;
    }
    seen[slot] = true;
  }
  // Tokens gone from the store disappear, unless an application still has sessions on them.
  for (auto it = m_tokens.begin(); it != m_tokens.end();) {
    if (!seen.count(it->first) && session_count(it->first, false) == 0) {
      it->second.pc.reset();
      it->second.esys.reset();
      it = m_tokens.erase(it);
    } else {
      ++it;
    }
  }
}

void
Module::refresh_objects(TokenState& ts)
{
  try {
    store::Store st = open_store();
    ts.objects = ObjectTable::read(st, ts.token.id, ts.objects);
  } catch (const Error& e) {
    log(LogLevel::k_warn, std::string("cannot read objects: ") + e.what());
    return; // keep what we had
  }
  if (log_enabled(LogLevel::k_debug)) {
    log(LogLevel::k_debug, "token " + std::to_string(ts.token.id) + ": "
                             + std::to_string(ts.objects.size()) + " objects read, "
                             + std::to_string(ObjectTable::parse_count())
                             + " rows parsed in full so far");
  }
}

TokenState&
Module::token(CK_SLOT_ID slot)
{
  auto it = m_tokens.find(slot);
  if (it == m_tokens.end()) {
    // An application may use a slot id it remembers without listing slots first.
    refresh_tokens();
    it = m_tokens.find(slot);
    if (it == m_tokens.end()) {
      fail(CKR_SLOT_ID_INVALID);
    }
  }
  return it->second;
}

Session&
Module::session(CK_SESSION_HANDLE h)
{
  auto it = m_sessions.find(h);
  if (it == m_sessions.end()) {
    fail(CKR_SESSION_HANDLE_INVALID);
  }
  return it->second;
}

Session&
Module::open_session(CK_SLOT_ID slot, CK_FLAGS flags)
{
  CK_SESSION_HANDLE h = m_next_session++;
  Session& s = m_sessions[h];
  s.handle = h;
  s.slot = slot;
  s.flags = flags;
  return s;
}

void
Module::close_session(CK_SESSION_HANDLE h)
{
  auto it = m_sessions.find(h);
  if (it == m_sessions.end()) {
    fail(CKR_SESSION_HANDLE_INVALID);
  }
  CK_SLOT_ID slot = it->second.slot;
  m_sessions.erase(it);
  // PKCS#11: closing the last session of a token logs the application out.
  auto ts = m_tokens.find(slot);
  if (ts != m_tokens.end() && session_count(slot, false) == 0) {
    logout(ts->second);
  }
}

void
Module::close_sessions_of(CK_SLOT_ID slot)
{
  std::erase_if(m_sessions, [&](const auto& entry) { return entry.second.slot == slot; });
  auto ts = m_tokens.find(slot);
  if (ts != m_tokens.end()) {
    logout(ts->second);
  }
}

size_t
Module::session_count(CK_SLOT_ID slot, bool rw_only) const
{
  size_t n = 0;
  for (const auto& [h, s] : m_sessions) {
    if (s.slot == slot && (!rw_only || (s.flags & CKF_RW_SESSION))) {
      ++n;
    }
  }
  return n;
}

const Object&
Module::object(Session& s, CK_OBJECT_HANDLE handle)
{
  return lookup(s, handle, CKR_OBJECT_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID);
}

const Object&
Module::key(Session& s, CK_OBJECT_HANDLE handle)
{
  return lookup(s, handle, CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN);
}

const Object&
Module::lookup(Session& s, CK_OBJECT_HANDLE handle, CK_RV unknown, CK_RV hidden)
{
  TokenState& ts = token(s.slot);
  auto id = static_cast<int64_t>(handle);
  if (!ts.objects.row(id)) {
    // A handle from an earlier module instance or another session: read the store again.
    refresh_objects(ts);
  }
  const Object* obj = ts.objects.get(id);
  if (!obj) {
    fail(unknown);
  }
  if (keys::attr_bool(obj->attrs, ck::k_private).value_or(true) && !ts.private_visible()) {
    fail(hidden);
  }
  return *obj;
}

namespace {

// The token's TCTI: TPM2_PKCS11_TCTI overrides the store; a `tcti` from the store's token
// config is used only when it names a known TCTI (tpm::is_allowed_store_tcti), since loading
// what it names would run a library or program of the store's choosing inside the host;
// else TPM2TOOLS_TCTI, else tctildr's default.
std::optional<std::string>
token_tcti(const Token& token)
{
  const char* env = std::getenv("TPM2_PKCS11_TCTI");
  if (env && *env) {
    return std::string(env);
  }
  if (token.config.tcti && !token.config.tcti->empty()) {
    if (!tpm::is_allowed_store_tcti(*token.config.tcti)) {
      log(LogLevel::k_warn,
          "token " + std::to_string(token.id) + ": the store's tcti '" + *token.config.tcti
            + "' is refused (only device, tabrmd, swtpm or mssim, with no '/' in the name); "
              "set TPM2_PKCS11_TCTI to choose the TPM");
      fail(CKR_DEVICE_ERROR);
    }
    return token.config.tcti;
  }
  return tpm::resolve_tcti(std::nullopt);
}

} // namespace

std::optional<std::string>
Module::tcti_for(const Token& token)
{
  return token_tcti(token);
}

SecureBytes
Module::owner_auth()
{
  const char* owner = std::getenv("TPM2_PKCS11_OWNER_AUTH");
  return SecureBytes::from(owner ? owner : "");
}

tpm::PrimaryContext&
Module::tpm(TokenState& ts)
{
  if (!ts.pc) {
    std::optional<Primary> primary = open_store().primary(ts.token.pid);
    if (!primary) {
      log(LogLevel::k_warn, "token " + std::to_string(ts.token.id) + " names a missing primary");
      fail(CKR_DEVICE_ERROR);
    }
    auto tcti = token_tcti(ts.token);
    ts.tcti = tcti;
    log(LogLevel::k_debug, "opening the TPM for token " + std::to_string(ts.token.id));
    ts.esys = std::make_unique<tpm::EsysContext>(tcti);
    try {
      ts.pc = std::make_unique<tpm::PrimaryContext>(ts.esys->get(), *primary, owner_auth());
    } catch (...) {
      ts.esys.reset();
      throw;
    }
  }
  return *ts.pc;
}

void
Module::unseal(TokenState& ts, std::span<const uint8_t> pin, bool so)
{
  std::optional<SealObject> seal = open_store().seal_object(ts.token.id);
  if (!seal) {
    fail(CKR_GENERAL_ERROR);
  }
  if (!so && !seal->user) {
    fail(CKR_USER_PIN_NOT_INITIALIZED);
  }
  // C_Login and an empty-PIN token's first key: on a TPM without resource manager that
  // killed processes filled, free their leftovers and try once more (not while another token
  // of this process has the TPM open: what is loaded may be ours). A TPM lost since the last
  // use is reopened once; a PIN the TPM never checked counts against nothing, so the retry
  // costs no dictionary-attack try.
  tpm::retry_when_full(
    [&] {
      ts.wrapping_key = with_tpm(
        ts, [&] { return token::unseal_wrapping_key(tpm(ts), so ? seal->so : *seal->user, pin); },
        CKR_DEVICE_ERROR);
    },
    [&]() -> std::optional<std::string> {
      for (const auto& [slot, other] : m_tokens) {
        if (&other != &ts && other.esys) {
          return std::nullopt;
        }
      }
      return ts.tcti;
    },
    [&] { drop_tpm(ts); }, [](const std::string& line) { log(LogLevel::k_warn, line); });
  // From here on the host holds a token's wrapping key (after a login, or on first use of an
  // empty-PIN token): keep it out of core dumps and away from same-user /proc readers. Not
  // before: a failed login leaves the host as it was.
  if (::prctl(PR_GET_DUMPABLE) != 0) {
    ::prctl(PR_SET_DUMPABLE, 0);
    log(LogLevel::k_debug, "host process made non-dumpable (it holds a wrapping key)");
  }
}

void
Module::drop_tpm(TokenState& ts) noexcept
{
  for (auto& [id, obj] : ts.loaded) {
    obj.release();
  }
  ts.loaded.clear();
  ts.last_use.clear();
  if (ts.pc) {
    ts.pc->abandon();
  }
  ts.pc.reset();
  ts.esys.reset();
}

void
Module::logout(TokenState& ts)
{
  for (auto& [h, s] : m_sessions) {
    if (s.slot == static_cast<CK_SLOT_ID>(ts.token.id)) {
      s.op = Operation{};
    }
  }
  ts.loaded.clear();
  ts.last_use.clear();
  ts.login = TokenState::Login::k_none;
  ts.wrapping_key = SecureBytes();
  ts.pc.reset();
  ts.esys.reset();
}

ESYS_TR
Module::load_key(TokenState& ts, const Object& obj)
{
  auto it = ts.loaded.find(obj.id);
  if (it != ts.loaded.end()) {
    ts.last_use[obj.id] = ++ts.use_counter;
    return it->second.get();
  }
  const Bytes* pub = keys::attr_bytes(obj.attrs, ck::k_tpm2_pub_blob);
  const Bytes* priv = keys::attr_bytes(obj.attrs, ck::k_tpm2_priv_blob);
  const Bytes* enc = keys::attr_bytes(obj.attrs, ck::k_tpm2_objauth_enc);
  if (!pub || !priv || !enc) {
    fail(CKR_KEY_TYPE_INCONSISTENT);
  }
  if (ts.wrapping_key.empty()) {
    if (!ts.token.config.empty_user_pin) {
      fail(CKR_USER_NOT_LOGGED_IN);
    }
    unseal(ts, {}, false);
  }
  tpm::PrimaryContext& pc = tpm(ts);
  TPM2B_PUBLIC tpub = tpm::unmarshal_public(*pub);
  TPM2B_PRIVATE tpriv = tpm::unmarshal_private(*priv);
  tpm::TpmObject key;
  for (;;) {
    try {
      key = pc.load(tpub, tpriv);
      break;
    } catch (const Error& e) {
      // Without a resource manager the TPM holds few objects: make room and try again.
      if (ts.loaded.empty() || !tpm::is_tpm_full(e)) {
        throw;
      }
      auto oldest =
        std::min_element(ts.last_use.begin(), ts.last_use.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
      log(LogLevel::k_debug, "TPM full: flushing key object " + std::to_string(oldest->first));
      ts.loaded.erase(oldest->first);
      ts.last_use.erase(oldest);
    }
  }
  SecureBytes auth = crypto::unwrap_auth(ts.wrapping_key, to_string(*enc));
  tpm::set_auth(ts.esys->get(), key.get(), auth);
  log(LogLevel::k_debug, "loaded key object " + std::to_string(obj.id));
  ESYS_TR tr = key.get();
  ts.loaded.emplace(obj.id, std::move(key));
  ts.last_use[obj.id] = ++ts.use_counter;
  return tr;
}

bool
Module::pss_good(TokenState& ts)
{
  if (!ts.pss_good) {
    tpm(ts); // within the caller's with_tpm()
    ts.pss_good = tpm::pss_sigs_good(ts.esys->get());
  }
  return *ts.pss_good;
}

} // namespace ptool::p11
