/* SPDX-License-Identifier: BSD-2-Clause */
/* Side-by-side PKCS#11 case programs (tests/pkcs11/c/p11case_*.c).
 *
 * Each program dlopen()s the module named by argv[1], reaches every function through
 * C_GetFunctionList only, and prints one line per observation:
 *
 *     <case>.<key> = <value>
 *
 * tests/pkcs11/p11_common.py:side_by_side() runs the same program against our module and
 * upstream's libtpm2_pkcs11.so (each on its own copy of the store) and compares the lines.
 * Print only what both modules must agree on: return codes, lengths, flags, verification
 * results, public values — never random bytes such as signatures or generated keys.
 *
 * Environment: P11_TOKEN (token label, default "tok"), P11_USER_PIN, P11_SO_PIN.
 */
#ifndef P11CASE_H
#define P11CASE_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit-1/p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR F;
static const char* p11_case_name = "setup";

/* The case the following lines belong to. */
static void
p11_case(const char* name)
{
  p11_case_name = name;
  fflush(stdout);
}

static void
p11_report(const char* key, const char* fmt, ...)
{
  va_list ap;
  printf("%s.%s = ", p11_case_name, key);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

/* Reports a return code as "rv = 0x…" and returns it. */
static CK_RV
p11_rv(const char* key, CK_RV rv)
{
  p11_report(key, "0x%lx", (unsigned long)rv);
  return rv;
}

static void
p11_hex(const char* key, const void* data, size_t len)
{
  const unsigned char* b = (const unsigned char*)data;
  printf("%s.%s = ", p11_case_name, key);
  for (size_t i = 0; i < len; i++) {
    printf("%02x", b[i]);
  }
  printf("\n");
  fflush(stdout);
}

/* An attribute of `o` as a number (CK_ULONG) or a flag, or "rv 0x…" when it cannot be read. */
static void
p11_report_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char* key, CK_ATTRIBUTE_TYPE type)
{
  CK_ULONG v = 0;
  CK_ATTRIBUTE a = {type, &v, sizeof v};
  CK_RV rv = F->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
  } else {
    p11_report(key, "%lu", (unsigned long)v);
  }
}

static void
p11_report_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char* key, CK_ATTRIBUTE_TYPE type)
{
  CK_BBOOL v = 2;
  CK_ATTRIBUTE a = {type, &v, sizeof v};
  CK_RV rv = F->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
  } else {
    p11_report(key, "%u", (unsigned)v);
  }
}

/* A setup step that must succeed: otherwise the program stops (exit 3) naming it. */
#define P11_MUST(expr)                                                                             \
  do {                                                                                             \
    CK_RV p11_must_rv = (expr);                                                                    \
    if (p11_must_rv != CKR_OK) {                                                                   \
      fprintf(stderr, "%s: %s failed: 0x%lx\n", p11_case_name, #expr, (unsigned long)p11_must_rv); \
      exit(3);                                                                                     \
    }                                                                                              \
  } while (0)

static const char*
p11_env(const char* name, const char* fallback)
{
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

static const char*
p11_user_pin(void)
{
  return p11_env("P11_USER_PIN", "userpin1");
}
static const char*
p11_so_pin(void)
{
  return p11_env("P11_SO_PIN", "sopin1");
}

/* Loads the module and calls C_Initialize(NULL). */
static void
p11_load(int argc, char** argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
    exit(2);
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    exit(2);
  }
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
  if (!get || get(&F) != CKR_OK || !F) {
    fprintf(stderr, "%s: no C_GetFunctionList\n", argv[1]);
    exit(2);
  }
  P11_MUST(F->C_Initialize(NULL));
}

/* The slot of the initialized token labelled $P11_TOKEN (or `label`); exits 3 when none. */
static CK_SLOT_ID
p11_slot_of(const char* label)
{
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  P11_MUST(F->C_GetSlotList(CK_TRUE, slots, &n));
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO ti;
    if (F->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED)) {
      continue;
    }
    size_t len = strlen(label);
    if (len <= sizeof ti.label && memcmp(ti.label, label, len) == 0
        && (len == sizeof ti.label || ti.label[len] == ' ')) {
      return slots[i];
    }
  }
  fprintf(stderr, "no initialized token labelled %s\n", label);
  exit(3);
}

static CK_SLOT_ID
p11_slot(void)
{
  return p11_slot_of(p11_env("P11_TOKEN", "tok"));
}

static CK_SESSION_HANDLE
p11_open_rw(CK_SLOT_ID slot)
{
  CK_SESSION_HANDLE h = 0;
  P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h));
  return h;
}

static CK_RV
p11_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, const char* pin)
{
  return F->C_Login(h, who, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
}

/* Finds up to `max` objects matching the template; returns how many. */
static CK_ULONG
p11_find(CK_SESSION_HANDLE h, CK_ATTRIBUTE* tmpl, CK_ULONG count, CK_OBJECT_HANDLE* out,
         CK_ULONG max)
{
  CK_ULONG n = 0;
  P11_MUST(F->C_FindObjectsInit(h, tmpl, count));
  P11_MUST(F->C_FindObjects(h, out, max, &n));
  P11_MUST(F->C_FindObjectsFinal(h));
  return n;
}

/* The first object of class `cls` whose CKA_LABEL is `label`, or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE
p11_find_labelled(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char* label)
{
  CK_ATTRIBUTE t[] = {
    {CKA_CLASS, &cls, sizeof cls},
    {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
  };
  CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
  return p11_find(h, t, 2, &o, 1) ? o : CK_INVALID_HANDLE;
}

static void
p11_done(void)
{
  P11_MUST(F->C_Finalize(NULL));
}

#endif
