/* SPDX-License-Identifier: BSD-2-Clause */
/* Sessions and login state (see p11case.h): session states, user and SO login rules, login
 * ending with the token's last session, the per-token session limit. */
#include "p11case.h"

static void
state_of(const char* key, CK_SESSION_HANDLE h)
{
  CK_SESSION_INFO si;
  memset(&si, 0, sizeof si);
  CK_RV rv = F->C_GetSessionInfo(h, &si);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
    return;
  }
  p11_report(key, "state %lu flags 0x%lx", (unsigned long)si.state, (unsigned long)si.flags);
}

static void
counts(const char* key, CK_SLOT_ID slot)
{
  CK_TOKEN_INFO ti;
  P11_MUST(F->C_GetTokenInfo(slot, &ti));
  p11_report(key, "%lu/%lu rw %lu/%lu", (unsigned long)ti.ulSessionCount,
             (unsigned long)ti.ulMaxSessionCount, (unsigned long)ti.ulRwSessionCount,
             (unsigned long)ti.ulMaxRwSessionCount);
}

static CK_SESSION_HANDLE
open_ro(CK_SLOT_ID slot)
{
  CK_SESSION_HANDLE h = 0;
  P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h));
  return h;
}

static CK_RV
open_rv(CK_SLOT_ID slot, CK_FLAGS flags)
{
  CK_SESSION_HANDLE h = 0;
  CK_RV rv = F->C_OpenSession(slot, flags, NULL, NULL, &h);
  if (rv == CKR_OK) {
    P11_MUST(F->C_CloseSession(h));
  }
  return rv;
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE h;
  CK_SESSION_HANDLE ro;
  CK_SESSION_HANDLE rw;

  p11_case("sessions");
  counts("counts_none", slot);
  ro = open_ro(slot);
  rw = p11_open_rw(slot);
  state_of("ro", ro);
  state_of("rw", rw);
  counts("counts_two", slot);
  p11_rv("not_serial", open_rv(slot, 0));
  p11_rv("bad_slot", open_rv(9999, CKF_SERIAL_SESSION));
  p11_rv("close_bad_handle", F->C_CloseSession(0x7777));
  CK_SESSION_INFO si;
  p11_rv("info_bad_handle", F->C_GetSessionInfo(0x7777, &si));
  p11_rv("close_all_bad_slot", F->C_CloseAllSessions(9999));

  p11_case("user");
  p11_rv("logout_nobody", F->C_Logout(rw));
  p11_rv("bad_user_type", p11_login(rw, 7, p11_user_pin()));
  p11_rv("wrong_pin", p11_login(ro, CKU_USER, "not-the-pin"));
  state_of("ro_after_wrong_pin", ro);
  p11_rv("login", p11_login(ro, CKU_USER, p11_user_pin()));
  state_of("ro", ro);
  state_of("rw", rw);
  p11_rv("again", p11_login(rw, CKU_USER, p11_user_pin()));
  p11_rv("so_while_user", p11_login(rw, CKU_SO, p11_so_pin()));
  p11_rv("context_specific_no_op", p11_login(rw, CKU_CONTEXT_SPECIFIC, p11_user_pin()));
  h = open_ro(slot);
  state_of("new_ro", h);
  P11_MUST(F->C_CloseSession(h));
  p11_rv("close_ro", F->C_CloseSession(ro));
  state_of("rw_after_close_ro", rw);
  p11_rv("close_last", F->C_CloseSession(rw));

  p11_case("last_session_logs_out");
  h = p11_open_rw(slot);
  state_of("new_rw", h);
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  state_of("rw", h);
  p11_rv("close_all", F->C_CloseAllSessions(slot));
  p11_rv("closed_handle", F->C_GetSessionInfo(h, &si));
  counts("counts_after_close_all", slot);
  h = open_ro(slot);
  state_of("new_ro", h);
  p11_rv("login_again", p11_login(h, CKU_USER, p11_user_pin()));
  p11_rv("logout", F->C_Logout(h));
  state_of("after_logout", h);
  p11_rv("logout_twice", F->C_Logout(h));
  p11_rv("close", F->C_CloseSession(h));

  p11_case("so");
  ro = open_ro(slot);
  rw = p11_open_rw(slot);
  p11_rv("so_with_ro_open", p11_login(rw, CKU_SO, p11_so_pin()));
  p11_rv("so_in_ro", p11_login(ro, CKU_SO, p11_so_pin()));
  P11_MUST(F->C_CloseSession(ro));
  p11_rv("so_login", p11_login(rw, CKU_SO, p11_so_pin()));
  state_of("rw", rw);
  p11_rv("open_ro_while_so", open_rv(slot, CKF_SERIAL_SESSION));
  h = p11_open_rw(slot);
  state_of("new_rw", h);
  p11_rv("user_while_so", p11_login(h, CKU_USER, p11_user_pin()));
  p11_rv("so_again", p11_login(h, CKU_SO, p11_so_pin()));
  p11_rv("logout", F->C_Logout(h));
  state_of("rw_after_logout", rw);
  p11_rv("open_ro_after_logout", open_rv(slot, CKF_SERIAL_SESSION));
  p11_rv("so_then_close_all", p11_login(rw, CKU_SO, p11_so_pin()));
  P11_MUST(F->C_CloseAllSessions(slot));
  h = open_ro(slot);
  state_of("ro_after_close_all", h);
  P11_MUST(F->C_CloseSession(h));

  /* Up to 1024 sessions per token, read-only and read-write together (upstream's limit). */
  p11_case("limit");
  static CK_SESSION_HANDLE many[1100];
  int opened = 0;
  CK_RV rv = CKR_OK;
  for (; opened < 1100; opened++) {
    CK_FLAGS flags = CKF_SERIAL_SESSION | ((opened & 1) ? CKF_RW_SESSION : 0);
    rv = F->C_OpenSession(slot, flags, NULL, NULL, &many[opened]);
    if (rv != CKR_OK) {
      break;
    }
  }
  p11_report("opened", "%d", opened);
  p11_rv("next", rv);
  counts("counts_full", slot);
  P11_MUST(F->C_CloseSession(many[5]));
  p11_rv("after_one_closed", open_rv(slot, CKF_SERIAL_SESSION));
  P11_MUST(F->C_CloseAllSessions(slot));
  counts("counts_after_close_all", slot);

  p11_done();
  return 0;
}
