/* SPDX-License-Identifier: BSD-2-Clause */
/* A search begun in one login state and read in another (see p11case.h): upstream's module
 * matches private objects at C_FindObjectsInit and decides at each C_FindObjects whether
 * the user is logged in, so a search begun before C_Login shows them after it. */
#include "p11case.h"

/* Reads what is left of an active search: how many handles, and the C_FindObjects rv. */
static void
drain(CK_SESSION_HANDLE h, const char* key)
{
  CK_OBJECT_HANDLE found[64];
  CK_ULONG n = 0;
  CK_ULONG total = 0;
  CK_RV rv;
  do {
    rv = F->C_FindObjects(h, found, 64, &n);
    if (rv != CKR_OK) {
      break;
    }
    total += n;
  } while (n > 0);
  char rv_key[64];
  snprintf(rv_key, sizeof rv_key, "%s_rv", key);
  p11_rv(rv_key, rv);
  p11_report(key, "%lu", (unsigned long)total);
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE h = p11_open_rw(slot);
  CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &priv, sizeof priv}};

  p11_case("init_before_login");
  p11_rv("init", F->C_FindObjectsInit(h, t, 1));
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  drain(h, "private_keys");
  p11_rv("final", F->C_FindObjectsFinal(h));
  p11_rv("logout", F->C_Logout(h));

  p11_case("init_after_login");
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  p11_rv("init", F->C_FindObjectsInit(h, t, 1));
  p11_rv("logout", F->C_Logout(h));
  drain(h, "private_keys");
  p11_rv("final", F->C_FindObjectsFinal(h));

  p11_case("all_objects_across_login");
  p11_rv("init", F->C_FindObjectsInit(h, NULL, 0));
  CK_OBJECT_HANDLE first[2];
  CK_ULONG n = 0;
  p11_rv("first_rv", F->C_FindObjects(h, first, 2, &n));
  p11_report("first", "%lu", (unsigned long)n);
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  drain(h, "rest");
  p11_rv("final", F->C_FindObjectsFinal(h));
  p11_rv("logout", F->C_Logout(h));

  p11_rv("close", F->C_CloseSession(h));
  p11_done();
  return 0;
}
