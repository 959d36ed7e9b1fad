/* SPDX-License-Identifier: BSD-2-Clause */
/* The spare uninitialized slot, C_InitToken, C_InitPIN and C_SetPIN (see p11case.h).
 * Starts from a store with one initialized token ($P11_TOKEN); makes the token "newtok". */
#include "p11case.h"

#define NEW_LABEL "newtok"

static CK_SLOT_ID slots[300];
static CK_ULONG n_slots;

/* Lists the slots; returns the uninitialized one (the last listed), or -1 when none. */
static CK_SLOT_ID
list_slots(void)
{
  CK_ULONG n = 0;
  P11_MUST(F->C_GetSlotList(CK_FALSE, NULL, &n));
  n_slots = 300;
  P11_MUST(F->C_GetSlotList(CK_FALSE, slots, &n_slots));
  CK_ULONG present = 300;
  CK_SLOT_ID tmp[300];
  P11_MUST(F->C_GetSlotList(CK_TRUE, tmp, &present));
  p11_report("slots", "%lu present %lu", (unsigned long)n_slots, (unsigned long)present);
  CK_SLOT_ID spare = (CK_SLOT_ID)-1;
  CK_SLOT_ID max_init = 0;
  int spares = 0;
  for (CK_ULONG i = 0; i < n_slots; i++) {
    CK_TOKEN_INFO ti;
    P11_MUST(F->C_GetTokenInfo(slots[i], &ti));
    if (ti.flags & CKF_TOKEN_INITIALIZED) {
      max_init = slots[i] > max_init ? slots[i] : max_init;
    } else {
      spare = slots[i];
      spares++;
      p11_report("spare_is_last", "%d", i + 1 == n_slots);
    }
  }
  p11_report("spares", "%d", spares);
  if (spares) {
    p11_report("spare_id_after_max", "%ld", (long)(spare - max_init));
  }
  return spare;
}

static void
label_of(const char* key, const unsigned char* field, size_t n)
{
  size_t len = n;
  while (len && field[len - 1] == ' ') {
    len--;
  }
  p11_report(key, "'%.*s'", (int)len, (const char*)field);
}

static CK_SLOT_ID
slot_labelled(const char* label)
{
  for (CK_ULONG i = 0; i < n_slots; i++) {
    CK_TOKEN_INFO ti;
    if (F->C_GetTokenInfo(slots[i], &ti) != CKR_OK) {
      continue;
    }
    size_t len = strlen(label);
    if (memcmp(ti.label, label, len) == 0 && ti.label[len] == ' ') {
      return slots[i];
    }
  }
  return (CK_SLOT_ID)-1;
}

static void
token_flags(const char* key, CK_SLOT_ID slot)
{
  CK_TOKEN_INFO ti;
  CK_RV rv = F->C_GetTokenInfo(slot, &ti);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
    return;
  }
  p11_report(key, "0x%lx", (unsigned long)ti.flags);
}

static CK_RV
init_token(CK_SLOT_ID slot, const char* sopin, const char* label)
{
  CK_UTF8CHAR field[32];
  memset(field, ' ', sizeof field);
  memcpy(field, label, strlen(label));
  return F->C_InitToken(slot, (CK_UTF8CHAR_PTR)sopin, (CK_ULONG)strlen(sopin), field);
}

static CK_RV
set_pin(CK_SESSION_HANDLE h, const char* old_pin, const char* new_pin)
{
  return F->C_SetPIN(h, (CK_UTF8CHAR_PTR)old_pin, (CK_ULONG)strlen(old_pin),
                     (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin));
}

static CK_RV
init_pin(CK_SESSION_HANDLE h, const char* pin)
{
  return F->C_InitPIN(h, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
}

static void
object_count(const char* key, CK_SESSION_HANDLE h)
{
  CK_OBJECT_HANDLE found[16];
  p11_report(key, "%lu", (unsigned long)p11_find(h, NULL, 0, found, 16));
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID tok = p11_slot();
  CK_SESSION_HANDLE h;
  CK_SESSION_HANDLE ro;
  CK_SESSION_INFO si;

  p11_case("spare");
  CK_SLOT_ID spare = list_slots();
  CK_TOKEN_INFO ti;
  p11_rv("token_info_rv", F->C_GetTokenInfo(spare, &ti));
  p11_report("flags", "0x%lx", (unsigned long)ti.flags);
  label_of("label", ti.label, sizeof ti.label);
  p11_report("max_sessions", "%lu rw %lu", (unsigned long)ti.ulMaxSessionCount,
             (unsigned long)ti.ulMaxRwSessionCount);
  p11_report("pin_len", "%lu..%lu", (unsigned long)ti.ulMinPinLen, (unsigned long)ti.ulMaxPinLen);
  CK_SLOT_INFO sl;
  p11_rv("slot_info_rv", F->C_GetSlotInfo(spare, &sl));
  p11_report("slot_flags", "0x%lx", (unsigned long)sl.flags);
  CK_ULONG mechs = 0;
  p11_rv("mechanism_list_rv", F->C_GetMechanismList(spare, NULL, &mechs));

  p11_case("spare_session");
  P11_MUST(F->C_OpenSession(spare, CKF_SERIAL_SESSION, NULL, NULL, &ro));
  P11_MUST(F->C_GetSessionInfo(ro, &si));
  p11_report("state", "%lu", (unsigned long)si.state);
  object_count("objects", ro);
  p11_rv("init_pin_read_only", init_pin(ro, "x"));
  p11_rv("set_pin_read_only", set_pin(ro, "a", "b"));
  p11_rv("user_login", p11_login(ro, CKU_USER, "x"));
  P11_MUST(F->C_CloseSession(ro));

  // One byte over ulMaxPinLen.
  char long_pin[130];
  memset(long_pin, 'p', 129);
  long_pin[129] = '\0';

  p11_case("init_errors");
  p11_rv("initialized_token", init_token(tok, p11_so_pin(), "again"));
  CK_UTF8CHAR blank[32];
  memset(blank, ' ', sizeof blank);
  p11_rv("null_label", F->C_InitToken(spare, (CK_UTF8CHAR_PTR) "sopin2", 6, NULL));
  p11_rv("null_pin", F->C_InitToken(spare, NULL, 6, blank));
  p11_rv("bad_slot", init_token(9999, "sopin2", NEW_LABEL));

  p11_case("init");
  p11_rv("init_token", init_token(spare, "sopin2", NEW_LABEL));
  CK_SLOT_ID next_spare = list_slots();
  CK_SLOT_ID made = slot_labelled(NEW_LABEL);
  p11_report("made_in_spare_slot", "%d", made == spare);
  p11_report("new_spare_after_made", "%ld", (long)(next_spare - made));
  token_flags("flags", made);
  token_flags("old_token_flags", tok);

  p11_case("init_pin");
  P11_MUST(F->C_OpenSession(made, CKF_SERIAL_SESSION, NULL, NULL, &ro));
  h = p11_open_rw(made);
  p11_rv("user_login_no_pin", p11_login(h, CKU_USER, "userpin2"));
  p11_rv("init_pin_public", init_pin(h, "userpin2"));
  p11_rv("so_login_ro_open", p11_login(h, CKU_SO, "sopin2"));
  P11_MUST(F->C_CloseSession(ro));
  p11_rv("so_login", p11_login(h, CKU_SO, "sopin2"));
  object_count("objects_so", h);
  p11_rv("init_pin_too_long", init_pin(h, long_pin));
  p11_rv("init_pin", init_pin(h, "userpin2"));
  token_flags("flags_after", made);
  p11_rv("logout", F->C_Logout(h));
  p11_rv("user_login", p11_login(h, CKU_USER, "userpin2"));
  p11_rv("init_pin_as_user", init_pin(h, "userpin9"));
  p11_rv("user_logout", F->C_Logout(h));

  p11_case("set_pin");
  p11_rv("user_login", p11_login(h, CKU_USER, "userpin2"));
  p11_rv("as_user", set_pin(h, "userpin2", "userpin3"));
  P11_MUST(F->C_Logout(h));
  p11_rv("login_new", p11_login(h, CKU_USER, "userpin3"));
  P11_MUST(F->C_Logout(h));
  p11_rv("public", set_pin(h, "userpin3", "userpin4"));
  p11_rv("login_after_public", p11_login(h, CKU_USER, "userpin4"));
  P11_MUST(F->C_Logout(h));
  p11_rv("wrong_old", set_pin(h, "not-the-pin", "userpin5"));
  p11_rv("login_after_wrong_old", p11_login(h, CKU_USER, "userpin4"));
  P11_MUST(F->C_Logout(h));
  p11_rv("too_long_new", set_pin(h, "userpin4", long_pin));
  P11_MUST(F->C_OpenSession(made, CKF_SERIAL_SESSION, NULL, NULL, &ro));
  p11_rv("read_only_session", set_pin(ro, "userpin4", "userpin5"));
  P11_MUST(F->C_CloseSession(ro));
  p11_rv("so_login", p11_login(h, CKU_SO, "sopin2"));
  p11_rv("as_so", set_pin(h, "sopin2", "sopin3"));
  P11_MUST(F->C_Logout(h));
  p11_rv("so_login_new", p11_login(h, CKU_SO, "sopin3"));
  p11_rv("init_pin_again", init_pin(h, "userpin6"));
  P11_MUST(F->C_Logout(h));
  p11_rv("user_login_reset", p11_login(h, CKU_USER, "userpin6"));
  P11_MUST(F->C_CloseSession(h));

  p11_case("reload");
  P11_MUST(F->C_Finalize(NULL));
  P11_MUST(F->C_Initialize(NULL));
  list_slots();
  made = slot_labelled(NEW_LABEL);
  token_flags("flags", made);
  h = p11_open_rw(made);
  p11_rv("user_login", p11_login(h, CKU_USER, "userpin6"));
  object_count("objects", h);
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(made);
  p11_rv("so_login", p11_login(h, CKU_SO, "sopin3"));
  P11_MUST(F->C_CloseSession(h));
  p11_rv("old_token_login", p11_login(h = p11_open_rw(tok), CKU_USER, p11_user_pin()));
  P11_MUST(F->C_CloseSession(h));

  /* Last, since upstream initializes the token anyway (see the test). */
  p11_case("init_with_session");
  spare = list_slots();
  P11_MUST(F->C_OpenSession(spare, CKF_SERIAL_SESSION, NULL, NULL, &ro));
  p11_rv("init_token", init_token(spare, "sopin2", "third"));
  P11_MUST(F->C_CloseSession(ro));
  p11_case("so_pin_too_long");
  spare = list_slots();
  p11_rv("init_token", init_token(spare, long_pin, "fourth"));

  p11_done();
  return 0;
}
