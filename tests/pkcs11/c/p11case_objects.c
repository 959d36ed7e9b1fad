/* SPDX-License-Identifier: BSD-2-Clause */
/* Side by side: C_CreateObject (certificate, data, RSA public key), finding them by label,
 * C_SetAttributeValue and C_DestroyObject, with the login and session rules.
 * argv[2]: a DER X.509 certificate file. */
#include "p11case.h"

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static unsigned char cert[8192];
static CK_ULONG cert_len;

static CK_ULONG
count_labelled(CK_SESSION_HANDLE s, const char* label)
{
  CK_OBJECT_HANDLE found[8];
  CK_ATTRIBUTE t = {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)};
  return p11_find(s, &t, 1, found, 8);
}

static void
report_attr_len(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char* key, CK_ATTRIBUTE_TYPE t)
{
  CK_ATTRIBUTE a = {t, NULL, 0};
  CK_RV rv = F->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
  } else {
    p11_report(key, "len %lu", (unsigned long)a.ulValueLen);
  }
}

static CK_RV
create_cert(CK_SESSION_HANDLE s, const char* label, CK_BBOOL token, CK_BBOOL priv,
            CK_OBJECT_HANDLE* out)
{
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE type = CKC_X_509;
  CK_ATTRIBUTE t[] = {
    {CKA_CLASS, &cls, sizeof cls},
    {CKA_CERTIFICATE_TYPE, &type, sizeof type},
    {CKA_TOKEN, &token, 1},
    {CKA_PRIVATE, &priv, 1},
    {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    {CKA_ID, (void*)"certid", 6},
    {CKA_VALUE, cert, cert_len},
  };
  return F->C_CreateObject(s, t, 7, out);
}

static CK_RV
create_data(CK_SESSION_HANDLE s, const char* label, CK_BBOOL priv, int with_value,
            CK_OBJECT_HANDLE* out)
{
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_ATTRIBUTE t[] = {
    {CKA_CLASS, &cls, sizeof cls},
    {CKA_TOKEN, &yes, 1},
    {CKA_PRIVATE, &priv, 1},
    {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    {CKA_APPLICATION, (void*)"p11case", 7},
    {CKA_VALUE, (void*)"hello data", 10},
  };
  return F->C_CreateObject(s, t, with_value ? 6 : 5, out);
}

int
main(int argc, char** argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODULE.so CERT.der\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[2], "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", argv[2]);
    return 2;
  }
  cert_len = (CK_ULONG)fread(cert, 1, sizeof cert, f);
  fclose(f);
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE s = p11_open_rw(slot);
  CK_OBJECT_HANDLE o = 0;

  p11_case("not_logged_in");
  p11_rv("create_cert", create_cert(s, "nope", CK_TRUE, CK_FALSE, &o));

  P11_MUST(p11_login(s, CKU_USER, p11_user_pin()));
  p11_case("read_only_session");
  {
    CK_SESSION_HANDLE ro = 0;
    P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    p11_rv("create_cert", create_cert(ro, "nope", CK_TRUE, CK_FALSE, &o));
    P11_MUST(F->C_CloseSession(ro));
  }

  p11_case("cert");
  CK_OBJECT_HANDLE c = 0;
  if (p11_rv("rv", create_cert(s, "cert1", CK_TRUE, CK_FALSE, &c)) == CKR_OK) {
    p11_report("found", "%lu", (unsigned long)count_labelled(s, "cert1"));
    p11_report_ulong(s, c, "class", CKA_CLASS);
    p11_report_ulong(s, c, "certificate_type", CKA_CERTIFICATE_TYPE);
    p11_report_bool(s, c, "private", CKA_PRIVATE);
    p11_report_bool(s, c, "token", CKA_TOKEN);
    unsigned char back[8192];
    CK_ATTRIBUTE a = {CKA_VALUE, back, sizeof back};
    CK_RV rv = F->C_GetAttributeValue(s, c, &a, 1);
    p11_report("value", rv == CKR_OK && a.ulValueLen == cert_len && !memcmp(back, cert, cert_len)
                          ? "same"
                          : "different");
  }
  p11_case("cert_private");
  p11_rv("rv", create_cert(s, "certp", CK_TRUE, CK_TRUE, &o));
  p11_case("cert_session_object");
  p11_rv("rv", create_cert(s, "certs", CK_FALSE, CK_FALSE, &o));

  p11_case("data");
  CK_OBJECT_HANDLE d = 0;
  if (p11_rv("rv", create_data(s, "data1", CK_TRUE, 1, &d)) == CKR_OK) {
    p11_report("found", "%lu", (unsigned long)count_labelled(s, "data1"));
    p11_report_bool(s, d, "private", CKA_PRIVATE);
    report_attr_len(s, d, "application", CKA_APPLICATION);
    report_attr_len(s, d, "value", CKA_VALUE);
    unsigned char buf[32];
    CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof buf};
    CK_RV rv = F->C_GetAttributeValue(s, d, &a, 1);
    if (rv == CKR_OK && a.ulValueLen == 10 && !memcmp(buf, "hello data", 10)) {
      p11_report("value_read", "same");
    } else {
      p11_report("value_read", "rv 0x%lx len %lu", (unsigned long)rv, (unsigned long)a.ulValueLen);
    }
  }
  p11_case("data_public");
  p11_rv("rv", create_data(s, "datap", CK_FALSE, 1, &o));
  p11_case("data_no_value");
  p11_rv("rv", create_data(s, "datan", CK_TRUE, 0, &o));

  p11_case("rsa_public");
  CK_OBJECT_HANDLE p = 0;
  {
    unsigned char modulus[128];
    memset(modulus, 0xc3, sizeof modulus);
    modulus[127] = 0x01;
    unsigned char e[] = {0x01, 0x00, 0x01};
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE t[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &yes, 1},
      {CKA_LABEL, (void*)"pub1", 4},
      {CKA_MODULUS, modulus, sizeof modulus},
      {CKA_PUBLIC_EXPONENT, e, sizeof e},
    };
    if (p11_rv("rv", F->C_CreateObject(s, t, 6, &p)) == CKR_OK) {
      p11_report("found", "%lu", (unsigned long)count_labelled(s, "pub1"));
      p11_report_ulong(s, p, "modulus_bits", CKA_MODULUS_BITS);
      p11_report_bool(s, p, "verify", CKA_VERIFY);
      p11_report_bool(s, p, "private", CKA_PRIVATE);
      p11_report_bool(s, p, "local", CKA_LOCAL);
      report_attr_len(s, p, "allowed_mechanisms", CKA_ALLOWED_MECHANISMS);
    }
    p11_case("rsa_public_no_modulus");
    p11_rv("rv", F->C_CreateObject(s, t, 4, &o));
  }
  p11_case("bad_templates");
  {
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_ATTRIBUTE no_class[] = {{CKA_LABEL, (void*)"x", 1}};
    CK_ATTRIBUTE secret_key[] = {{CKA_CLASS, &secret, sizeof secret}};
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE local[] = {{CKA_CLASS, &data, sizeof data}, {CKA_LOCAL, &yes, 1}};
    p11_rv("no_class", F->C_CreateObject(s, no_class, 1, &o));
    p11_rv("secret_key", F->C_CreateObject(s, secret_key, 1, &o));
    p11_rv("local", F->C_CreateObject(s, local, 2, &o));
    p11_rv("null_template", F->C_CreateObject(s, NULL, 0, &o));
    unsigned char blob[] = {0x00, 0x01, 0x02};
    CK_ATTRIBUTE vendor[] = {{CKA_CLASS, &data, sizeof data},
                             {CKA_VALUE, (void*)"v", 1},
                             {0x8f000003UL, blob, sizeof blob}}; /* CKA_TPM2_PRIV_BLOB */
    p11_rv("vendor_attribute", F->C_CreateObject(s, vendor, 3, &o));
  }

  p11_case("set_label");
  if (c) {
    CK_ATTRIBUTE t = {CKA_LABEL, (void*)"cert2", 5};
    p11_rv("rv", F->C_SetAttributeValue(s, c, &t, 1));
    p11_report("found_new", "%lu", (unsigned long)count_labelled(s, "cert2"));
    p11_report("found_old", "%lu", (unsigned long)count_labelled(s, "cert1"));
  }
  p11_case("set_id_on_key");
  {
    CK_OBJECT_HANDLE k = p11_find_labelled(s, CKO_PRIVATE_KEY, "k256");
    CK_ATTRIBUTE t = {CKA_ID, (void*)"newid", 5};
    p11_rv("rv", F->C_SetAttributeValue(s, k, &t, 1));
    unsigned char back[16];
    CK_ATTRIBUTE a = {CKA_ID, back, sizeof back};
    P11_MUST(F->C_GetAttributeValue(s, k, &a, 1));
    p11_hex("id", back, a.ulValueLen);
    CK_ATTRIBUTE sign = {CKA_SIGN, &no, 1};
    p11_rv("set_sign", F->C_SetAttributeValue(s, k, &sign, 1));
  }

  p11_case("destroy");
  if (c) {
    p11_rv("cert", F->C_DestroyObject(s, c));
    p11_report("found_after", "%lu", (unsigned long)count_labelled(s, "cert2"));
    p11_rv("cert_again", F->C_DestroyObject(s, c));
  }
  if (d) {
    p11_rv("data", F->C_DestroyObject(s, d));
  }
  if (p) {
    p11_rv("rsa_public", F->C_DestroyObject(s, p));
  }
  {
    CK_SESSION_HANDLE ro = 0;
    P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    CK_OBJECT_HANDLE k = p11_find_labelled(ro, CKO_PUBLIC_KEY, "k256");
    p11_rv("read_only_session", F->C_DestroyObject(ro, k));
    P11_MUST(F->C_CloseSession(ro));
  }
  P11_MUST(F->C_Logout(s));
  {
    CK_OBJECT_HANDLE k = p11_find_labelled(s, CKO_PUBLIC_KEY, "k256");
    p11_rv("not_logged_in", F->C_DestroyObject(s, k));
    CK_ATTRIBUTE t = {CKA_LABEL, (void*)"x", 1};
    p11_rv("set_not_logged_in", F->C_SetAttributeValue(s, k, &t, 1));
    p11_report("public_keys_left", "%lu", (unsigned long)count_labelled(s, "k256"));
  }

  P11_MUST(F->C_CloseSession(s));
  p11_done();
  return 0;
}
