// SPDX-License-Identifier: BSD-2-Clause
// PKCS#11 micro-benchmark used by scripts/bench. Loads a module with dlopen and prints one
// "key value" line per measurement, so the same program measures ours and upstream's.
//
//   p11bench MODULE find                  C_Initialize + C_GetSlotList + find all objects
//   p11bench MODULE sign ec|rsa N PIN     N signatures with the first EC / RSA private key
//                                         (ECDSA on a SHA-256 digest / RSA PKCS#1 v1.5 with
//                                         SHA-256) in one logged-in session
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

static double
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
check(CK_RV rv, const char* what)
{
  if (rv != CKR_OK) {
    fprintf(stderr, "%s failed: 0x%lx\n", what, (unsigned long)rv);
    exit(1);
  }
}

// The first slot that has a token, after C_Initialize.
static CK_SLOT_ID
first_slot(CK_FUNCTION_LIST_PTR f, CK_ULONG* nslots)
{
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  check(f->C_GetSlotList(CK_TRUE, slots, &n), "C_GetSlotList");
  if (n == 0) {
    fprintf(stderr, "no token\n");
    exit(1);
  }
  *nslots = n;
  return slots[0];
}

static CK_ULONG
find_all(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE* tmpl, CK_ULONG ntmpl,
         CK_OBJECT_HANDLE* first)
{
  CK_OBJECT_HANDLE objs[256];
  CK_ULONG got = 0;
  CK_ULONG total = 0;
  check(f->C_FindObjectsInit(s, tmpl, ntmpl), "C_FindObjectsInit");
  do {
    check(f->C_FindObjects(s, objs, 256, &got), "C_FindObjects");
    if (total == 0 && got > 0 && first) {
      *first = objs[0];
    }
    total += got;
  } while (got > 0);
  check(f->C_FindObjectsFinal(s), "C_FindObjectsFinal");
  return total;
}

int
main(int argc, char** argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: p11bench MODULE find | sign ec|rsa N PIN\n");
    return 2;
  }
  double t0 = now_ms();
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  CK_C_GetFunctionList get_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
  CK_FUNCTION_LIST_PTR f = NULL;
  check(get_list(&f), "C_GetFunctionList");
  double t_load = now_ms();
  check(f->C_Initialize(NULL), "C_Initialize");
  double t_init = now_ms();
  CK_ULONG nslots = 0;
  CK_SLOT_ID slot = first_slot(f, &nslots);
  CK_SESSION_HANDLE s;
  check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
        "C_OpenSession");

  if (strcmp(argv[2], "find") == 0) {
    CK_ULONG n = find_all(f, s, NULL, 0, NULL);
    double t_find = now_ms();
    printf("dlopen_ms %.3f\ninitialize_ms %.3f\nslots %lu\nobjects %lu\ninit_find_ms %.3f\n",
           t_load - t0, t_init - t_load, nslots, n, t_find - t_load);
  } else if (strcmp(argv[2], "sign") == 0 && argc == 6) {
    int ec = strcmp(argv[3], "ec") == 0;
    long count = strtol(argv[4], NULL, 10);
    check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[5], strlen(argv[5])), "C_Login");
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = ec ? CKK_EC : CKK_RSA;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt } };
    CK_OBJECT_HANDLE key = 0;
    if (find_all(f, s, tmpl, 2, &key) == 0) {
      fprintf(stderr, "no %s private key\n", argv[3]);
      return 1;
    }
    CK_MECHANISM mech = { ec ? CKM_ECDSA : CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_BYTE data[32];
    memset(data, 0x5a, sizeof data);
    CK_BYTE sig[512];
    double t_sign = now_ms();
    for (long i = 0; i < count; ++i) {
      CK_ULONG len = sizeof sig;
      check(f->C_SignInit(s, &mech, key), "C_SignInit");
      check(f->C_Sign(s, data, sizeof data, sig, &len), "C_Sign");
    }
    double t_end = now_ms();
    printf("signs %ld\nsign_ms %.3f\nsigs_per_s %.2f\n", count, t_end - t_sign,
           count / ((t_end - t_sign) / 1e3));
    f->C_Logout(s);
  } else {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  f->C_CloseSession(s);
  f->C_Finalize(NULL);
  return 0;
}
