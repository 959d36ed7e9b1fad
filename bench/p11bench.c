// SPDX-License-Identifier: BSD-2-Clause
// PKCS#11 micro-benchmark used by scripts/bench. Loads a module with dlopen and prints one
// "key value" line per measurement, so the same program measures ours and upstream's.
//
//   p11bench MODULE find                  C_Initialize + C_GetSlotList + find all objects
//   p11bench MODULE sign ec|rsa N PIN     N signatures with the first EC / RSA private key
//                                         (ECDSA on a SHA-256 digest / RSA PKCS#1 v1.5 with
//                                         SHA-256) in one logged-in session
//   p11bench MODULE keygen ec|rsa N PIN   N C_GenerateKeyPair (P-256 / RSA-2048 token keys)
//   p11bench MODULE aes N PIN             N × C_Encrypt of 64 KiB (CKM_AES_CBC) with the first
//                                         AES key
// A module that does not implement keygen or AES encryption (CKR_FUNCTION_NOT_SUPPORTED,
// CKR_MECHANISM_INVALID) makes keygen / aes print "unsupported 1" and exit 0.
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

static int
unsupported(CK_RV rv)
{
  if (rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_MECHANISM_INVALID) {
    printf("unsupported 1\nrv 0x%lx\n", (unsigned long)rv);
    return 1;
  }
  return 0;
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
    fprintf(stderr, "usage: p11bench MODULE find | sign ec|rsa N PIN | keygen ec|rsa N PIN | "
                    "aes N PIN\n");
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
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}};
    CK_OBJECT_HANDLE key = 0;
    if (find_all(f, s, tmpl, 2, &key) == 0) {
      fprintf(stderr, "no %s private key\n", argv[3]);
      return 1;
    }
    CK_MECHANISM mech = {ec ? CKM_ECDSA : CKM_SHA256_RSA_PKCS, NULL, 0};
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
  } else if (strcmp(argv[2], "keygen") == 0 && argc == 6) {
    int ec = strcmp(argv[3], "ec") == 0;
    long count = strtol(argv[4], NULL, 10);
    check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[5], strlen(argv[5])), "C_Login");
    CK_BBOOL yes = CK_TRUE;
    CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_ULONG bits = 2048;
    CK_BYTE e[] = {0x01, 0x00, 0x01};
    CK_ATTRIBUTE pub_ec[] = {{CKA_TOKEN, &yes, sizeof yes},
                             {CKA_VERIFY, &yes, sizeof yes},
                             {CKA_EC_PARAMS, p256, sizeof p256}};
    CK_ATTRIBUTE pub_rsa[] = {{CKA_TOKEN, &yes, sizeof yes},
                              {CKA_VERIFY, &yes, sizeof yes},
                              {CKA_MODULUS_BITS, &bits, sizeof bits},
                              {CKA_PUBLIC_EXPONENT, e, sizeof e}};
    CK_ATTRIBUTE priv[] = {
      {CKA_TOKEN, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes}, {CKA_PRIVATE, &yes, sizeof yes}};
    CK_MECHANISM mech = {ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    double t_gen = now_ms();
    for (long i = 0; i < count; ++i) {
      CK_OBJECT_HANDLE pk, sk;
      CK_RV rv =
        f->C_GenerateKeyPair(s, &mech, ec ? pub_ec : pub_rsa, ec ? 3 : 4, priv, 3, &pk, &sk);
      if (unsupported(rv)) {
        return 0;
      }
      check(rv, "C_GenerateKeyPair");
    }
    double t_end = now_ms();
    printf("keys %ld\nkeygen_ms %.3f\nms_per_key %.2f\n", count, t_end - t_gen,
           (t_end - t_gen) / count);
    f->C_Logout(s);
  } else if (strcmp(argv[2], "aes") == 0 && argc == 5) {
    long count = strtol(argv[3], NULL, 10);
    check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[4], strlen(argv[4])), "C_Login");
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}};
    CK_OBJECT_HANDLE key = 0;
    if (find_all(f, s, tmpl, 2, &key) == 0) {
      fprintf(stderr, "no AES key\n");
      return 1;
    }
    CK_BYTE iv[16];
    memset(iv, 0x11, sizeof iv);
    CK_MECHANISM mech = {CKM_AES_CBC, iv, sizeof iv};
    static CK_BYTE data[65536];
    static CK_BYTE out[65536 + 16];
    memset(data, 0x5a, sizeof data);
    double t_enc = now_ms();
    for (long i = 0; i < count; ++i) {
      CK_ULONG len = sizeof out;
      CK_RV rv = f->C_EncryptInit(s, &mech, key);
      if (unsupported(rv)) {
        return 0;
      }
      check(rv, "C_EncryptInit");
      rv = f->C_Encrypt(s, data, sizeof data, out, &len);
      if (unsupported(rv)) {
        return 0;
      }
      check(rv, "C_Encrypt");
    }
    double t_end = now_ms();
    printf("bytes %ld\naes_ms %.3f\nmib_per_s %.3f\n", count * (long)sizeof data, t_end - t_enc,
           count * (sizeof data / 1048576.0) / ((t_end - t_enc) / 1e3));
    f->C_Logout(s);
  } else {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  f->C_CloseSession(s);
  f->C_Finalize(NULL);
  return 0;
}
