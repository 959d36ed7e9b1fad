/* SPDX-License-Identifier: BSD-2-Clause */
/* Finding objects and reading attributes, before and after C_Login (see p11case.h). */
#include "p11case.h"

static void
count_class(CK_SESSION_HANDLE h, const char* key, CK_OBJECT_CLASS cls)
{
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}};
  CK_OBJECT_HANDLE found[64];
  p11_report(key, "%lu", (unsigned long)p11_find(h, t, 1, found, 64));
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE h = p11_open_rw(slot);

  p11_case("before_login");
  count_class(h, "public_keys", CKO_PUBLIC_KEY);
  count_class(h, "private_keys", CKO_PRIVATE_KEY);

  p11_case("public_attributes");
  CK_OBJECT_HANDLE pub = p11_find_labelled(h, CKO_PUBLIC_KEY, "k256");
  p11_report("found", "%d", pub != CK_INVALID_HANDLE);
  CK_KEY_TYPE kt = 0;
  CK_BBOOL verify = CK_FALSE;
  CK_ATTRIBUTE a[] = {{CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_VERIFY, &verify, sizeof verify}};
  p11_rv("get_rv", F->C_GetAttributeValue(h, pub, a, 2));
  p11_report("key_type", "%lu", (unsigned long)kt);
  p11_report("verify", "%d", verify);
  CK_ATTRIBUTE point = {CKA_EC_POINT, NULL, 0};
  p11_rv("ec_point_size_rv", F->C_GetAttributeValue(h, pub, &point, 1));
  p11_report("ec_point_len", "%lu", (unsigned long)point.ulValueLen);

  p11_case("login");
  p11_rv("wrong_pin", p11_login(h, CKU_USER, "not-the-pin"));
  p11_rv("right_pin", p11_login(h, CKU_USER, p11_user_pin()));
  count_class(h, "private_keys", CKO_PRIVATE_KEY);
  count_class(h, "public_keys", CKO_PUBLIC_KEY);
  p11_rv("logout", F->C_Logout(h));
  count_class(h, "private_keys_after_logout", CKO_PRIVATE_KEY);

  p11_rv("close", F->C_CloseSession(h));
  p11_done();
  return 0;
}
