/* SPDX-License-Identifier: BSD-2-Clause */
/* A store of an old schema (1..7), which the module upgrades when it opens it: the token is
 * there, its keys are found and sign (see p11case.h and test_module_old_store.py). */
#include "p11case.h"

int
main(int argc, char** argv)
{
  p11_load(argc, argv);

  p11_case("slots");
  CK_ULONG n = 0;
  p11_rv("list_rv", F->C_GetSlotList(CK_TRUE, NULL, &n));
  p11_report("with_token", "%lu", (unsigned long)n);
  if (n == 0) {
    p11_done();
    return 0;
  }
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE h = p11_open_rw(slot);

  p11_case("find");
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &pub_class, sizeof pub_class}};
  CK_OBJECT_HANDLE found[16];
  p11_report("public_keys", "%lu", (unsigned long)p11_find(h, t, 1, found, 16));
  CK_OBJECT_HANDLE pub = p11_find_labelled(h, CKO_PUBLIC_KEY, "k256");
  p11_report("k256_public", "%d", pub != CK_INVALID_HANDLE);

  p11_case("sign");
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  CK_OBJECT_HANDLE priv = p11_find_labelled(h, CKO_PRIVATE_KEY, "k256");
  p11_report("k256_private", "%d", priv != CK_INVALID_HANDLE);
  CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
  CK_BYTE digest[32];
  memset(digest, 0x5a, sizeof digest);
  CK_BYTE sig[128];
  CK_ULONG sig_len = sizeof sig;
  p11_rv("sign_init", F->C_SignInit(h, &mech, priv));
  p11_rv("sign", F->C_Sign(h, digest, sizeof digest, sig, &sig_len));
  p11_report("sig_len", "%lu", (unsigned long)sig_len);
  p11_rv("verify_init", F->C_VerifyInit(h, &mech, pub));
  p11_rv("verify", F->C_Verify(h, digest, sizeof digest, sig, sig_len));
  p11_rv("logout", F->C_Logout(h));

  p11_rv("close", F->C_CloseSession(h));
  p11_done();
  return 0;
}
