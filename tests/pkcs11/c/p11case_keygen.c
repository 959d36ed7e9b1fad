/* SPDX-License-Identifier: BSD-2-Clause */
/* Side by side: C_GenerateKeyPair (RSA, EC) and C_GenerateKey (AES) with valid and invalid
 * templates; what the generated objects say, and that they sign and verify. */
#include "p11case.h"

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* DER OIDs of the named curves. */
static const unsigned char p224[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21};
static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const unsigned char k256[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}; /* secp256k1 */
static const unsigned char junk[] = {0x30, 0x03, 0x01, 0x01, 0xff};
static const unsigned char f4[] = {0x01, 0x00, 0x01};
static const unsigned char three[] = {0x03};

/* Prints the value in hex (public, deterministic values only) or only its length. */
static void
report_bytes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char* key, CK_ATTRIBUTE_TYPE type,
             int hex)
{
  unsigned char buf[1024];
  CK_ATTRIBUTE a = {type, buf, sizeof buf};
  CK_RV rv = F->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) {
    p11_report(key, "rv 0x%lx", (unsigned long)rv);
  } else if (hex) {
    p11_hex(key, buf, a.ulValueLen);
  } else {
    p11_report(key, "len %lu", (unsigned long)a.ulValueLen);
  }
}

/* Signs a fixed message with `priv` and verifies it with `pub` through the module. */
static void
sign_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub, CK_MECHANISM_TYPE m)
{
  CK_MECHANISM mech = {m, NULL, 0};
  unsigned char msg[32];
  memset(msg, 0x5a, sizeof msg);
  unsigned char sig[1024];
  CK_ULONG sig_len = sizeof sig;
  CK_RV rv = F->C_SignInit(s, &mech, priv);
  if (rv == CKR_OK) {
    rv = F->C_Sign(s, msg, sizeof msg, sig, &sig_len);
  }
  p11_rv("sign", rv);
  if (rv != CKR_OK) {
    return;
  }
  rv = F->C_VerifyInit(s, &mech, pub);
  if (rv == CKR_OK) {
    rv = F->C_Verify(s, msg, sizeof msg, sig, sig_len);
  }
  p11_report("verify", rv == CKR_OK ? "ok" : "failed");
}

static CK_RV
gen_ec(CK_SESSION_HANDLE s, const unsigned char* params, size_t params_len, const char* label,
       CK_OBJECT_HANDLE* pub, CK_OBJECT_HANDLE* priv)
{
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_ATTRIBUTE pt[] = {
    {CKA_TOKEN, &yes, 1},
    {CKA_VERIFY, &yes, 1},
    {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    {CKA_ID, (void*)label, (CK_ULONG)strlen(label)},
    {CKA_EC_PARAMS, (void*)params, (CK_ULONG)params_len},
  };
  CK_ATTRIBUTE vt[] = {
    {CKA_TOKEN, &yes, 1},
    {CKA_PRIVATE, &yes, 1},
    {CKA_SENSITIVE, &yes, 1},
    {CKA_SIGN, &yes, 1},
    {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    {CKA_ID, (void*)label, (CK_ULONG)strlen(label)},
  };
  return F->C_GenerateKeyPair(s, &mech, pt, 5, vt, 6, pub, priv);
}

static void
ec_case(CK_SESSION_HANDLE s, const char* name, const unsigned char* params, size_t len)
{
  p11_case(name);
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  if (p11_rv("rv", gen_ec(s, params, len, name, &pub, &priv)) != CKR_OK) {
    return;
  }
  p11_report_ulong(s, pub, "pub.class", CKA_CLASS);
  p11_report_ulong(s, pub, "pub.key_type", CKA_KEY_TYPE);
  report_bytes(s, pub, "pub.ec_params", CKA_EC_PARAMS, 1);
  report_bytes(s, pub, "pub.ec_point", CKA_EC_POINT, 0);
  report_bytes(s, pub, "pub.label", CKA_LABEL, 1);
  report_bytes(s, pub, "pub.id", CKA_ID, 1);
  p11_report_bool(s, pub, "pub.verify", CKA_VERIFY);
  p11_report_bool(s, pub, "pub.private", CKA_PRIVATE);
  p11_report_ulong(s, priv, "priv.class", CKA_CLASS);
  p11_report_ulong(s, priv, "priv.key_type", CKA_KEY_TYPE);
  report_bytes(s, priv, "priv.ec_params", CKA_EC_PARAMS, 1);
  p11_report_bool(s, priv, "priv.sign", CKA_SIGN);
  p11_report_bool(s, priv, "priv.sensitive", CKA_SENSITIVE);
  p11_report_bool(s, priv, "priv.private", CKA_PRIVATE);
  p11_report_bool(s, priv, "priv.local", CKA_LOCAL);
  p11_report_bool(s, priv, "priv.extractable", CKA_EXTRACTABLE);
  p11_report_bool(s, priv, "priv.always_authenticate", CKA_ALWAYS_AUTHENTICATE);
  p11_report_ulong(s, priv, "priv.keygen_mechanism", CKA_KEY_GEN_MECHANISM);
  sign_verify(s, priv, pub, CKM_ECDSA);
  CK_OBJECT_HANDLE found[4];
  CK_ATTRIBUTE by_label = {CKA_LABEL, (void*)name, (CK_ULONG)strlen(name)};
  p11_report("found_by_label", "%lu", (unsigned long)p11_find(s, &by_label, 1, found, 4));
}

/* A key pair generation that must fail before the TPM is asked. */
static void
bad_pair(CK_SESSION_HANDLE s, const char* name, CK_MECHANISM_TYPE m, CK_ATTRIBUTE* pt, CK_ULONG pn,
         CK_ATTRIBUTE* vt, CK_ULONG vn)
{
  p11_case(name);
  CK_MECHANISM mech = {m, NULL, 0};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  p11_rv("rv", F->C_GenerateKeyPair(s, &mech, pt, pn, vt, vn, &pub, &priv));
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  CK_SESSION_HANDLE s = p11_open_rw(slot);
  CK_OBJECT_HANDLE pub = 0, priv = 0;

  p11_case("not_logged_in");
  p11_rv("ec", gen_ec(s, p256, sizeof p256, "nope", &pub, &priv));

  P11_MUST(p11_login(s, CKU_USER, p11_user_pin()));
  p11_case("read_only_session");
  {
    CK_SESSION_HANDLE ro = 0;
    P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    p11_rv("ec", gen_ec(ro, p256, sizeof p256, "nope", &pub, &priv));
    P11_MUST(F->C_CloseSession(ro));
  }

  ec_case(s, "ec256", p256, sizeof p256);
  ec_case(s, "ec384", p384, sizeof p384);
  ec_case(s, "ec521", p521, sizeof p521);
  ec_case(s, "ec224", p224, sizeof p224);

  p11_case("always_auth_narrowed");
  {
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM_TYPE only[] = {CKM_ECDSA};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void*)p256, sizeof p256}};
    CK_ATTRIBUTE vt[] = {{CKA_ALWAYS_AUTHENTICATE, &yes, 1},
                         {CKA_ALLOWED_MECHANISMS, only, sizeof only}};
    if (p11_rv("rv", F->C_GenerateKeyPair(s, &mech, pt, 1, vt, 2, &pub, &priv)) == CKR_OK) {
      p11_report_bool(s, priv, "always_authenticate", CKA_ALWAYS_AUTHENTICATE);
      CK_MECHANISM_TYPE back[32];
      CK_ATTRIBUTE a = {CKA_ALLOWED_MECHANISMS, back, sizeof back};
      CK_RV rv = F->C_GetAttributeValue(s, priv, &a, 1);
      p11_rv("allowed_rv", rv);
      if (rv == CKR_OK) {
        p11_report("allowed_count", "%lu", (unsigned long)(a.ulValueLen / sizeof back[0]));
        p11_report("allowed_first", "0x%lx", (unsigned long)back[0]);
      }
    }
  }

  p11_case("rsa2048");
  {
    CK_ULONG bits = 2048;
    const char* label = "rsa2048";
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {
      {CKA_TOKEN, &yes, 1},
      {CKA_ENCRYPT, &yes, 1},
      {CKA_VERIFY, &yes, 1},
      {CKA_MODULUS_BITS, &bits, sizeof bits},
      {CKA_PUBLIC_EXPONENT, (void*)f4, sizeof f4},
      {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    };
    CK_ATTRIBUTE vt[] = {
      {CKA_TOKEN, &yes, 1},
      {CKA_PRIVATE, &yes, 1},
      {CKA_SIGN, &yes, 1},
      {CKA_DECRYPT, &yes, 1},
      {CKA_ALWAYS_AUTHENTICATE, &no, 1},
      {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)},
    };
    if (p11_rv("rv", F->C_GenerateKeyPair(s, &mech, pt, 6, vt, 6, &pub, &priv)) == CKR_OK) {
      p11_report_ulong(s, pub, "pub.key_type", CKA_KEY_TYPE);
      p11_report_ulong(s, pub, "pub.modulus_bits", CKA_MODULUS_BITS);
      report_bytes(s, pub, "pub.modulus", CKA_MODULUS, 0);
      report_bytes(s, pub, "pub.exponent", CKA_PUBLIC_EXPONENT, 1);
      p11_report_bool(s, pub, "pub.encrypt", CKA_ENCRYPT);
      p11_report_bool(s, pub, "pub.verify", CKA_VERIFY);
      p11_report_ulong(s, priv, "priv.key_type", CKA_KEY_TYPE);
      p11_report_ulong(s, priv, "priv.modulus_bits", CKA_MODULUS_BITS);
      p11_report_bool(s, priv, "priv.sign", CKA_SIGN);
      p11_report_bool(s, priv, "priv.decrypt", CKA_DECRYPT);
      sign_verify(s, priv, pub, CKM_SHA256_RSA_PKCS);
    }
  }

  p11_case("rsa_minimal");
  {
    CK_ULONG bits = 1024;
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}};
    if (p11_rv("rv", F->C_GenerateKeyPair(s, &mech, pt, 1, NULL, 0, &pub, &priv)) == CKR_OK) {
      p11_report_ulong(s, pub, "pub.modulus_bits", CKA_MODULUS_BITS);
      report_bytes(s, pub, "pub.label", CKA_LABEL, 0);
      report_bytes(s, pub, "pub.id", CKA_ID, 0);
      report_bytes(s, priv, "priv.id", CKA_ID, 0);
      p11_report_bool(s, priv, "priv.sign", CKA_SIGN);
      p11_report_bool(s, priv, "priv.decrypt", CKA_DECRYPT);
      sign_verify(s, priv, pub, CKM_SHA256_RSA_PKCS);
    }
  }

  /* Invalid templates and mechanisms: refused before any TPM work. */
  {
    CK_ULONG odd_bits = 1000, rsa = CKK_RSA, secret = CKO_SECRET_KEY;
    CK_ULONG four = 4;
    CK_ATTRIBUTE ec_ok[] = {{CKA_EC_PARAMS, (void*)p256, sizeof p256}};
    CK_ATTRIBUTE derive[] = {{CKA_DERIVE, &yes, 1}};
    CK_ATTRIBUTE session[] = {{CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE both[] = {{CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    CK_ATTRIBUTE bad_class[] = {{CKA_CLASS, &secret, sizeof secret}};
    CK_ATTRIBUTE bad_bool[] = {{CKA_SIGN, &four, sizeof four}};
    CK_ATTRIBUTE ec_rsa_type[] = {{CKA_EC_PARAMS, (void*)p256, sizeof p256},
                                  {CKA_KEY_TYPE, &rsa, sizeof rsa}};
    CK_ATTRIBUTE ec_junk[] = {{CKA_EC_PARAMS, (void*)junk, sizeof junk}};
    CK_ATTRIBUTE ec_k1[] = {{CKA_EC_PARAMS, (void*)k256, sizeof k256}};
    CK_ATTRIBUTE rsa_odd[] = {{CKA_MODULUS_BITS, &odd_bits, sizeof odd_bits}};
    CK_ATTRIBUTE rsa_e3[] = {{CKA_PUBLIC_EXPONENT, (void*)three, sizeof three}};

    bad_pair(s, "bad_mechanism", CKM_DSA_KEY_PAIR_GEN, ec_ok, 1, NULL, 0);
    p11_case("derive_requested");
    {
      CK_MECHANISM ec = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
      if (p11_rv("rv", F->C_GenerateKeyPair(s, &ec, ec_ok, 1, derive, 1, &pub, &priv)) == CKR_OK) {
        p11_report_bool(s, priv, "derive", CKA_DERIVE);
      }
    }
    bad_pair(s, "bad_session_key", CKM_EC_KEY_PAIR_GEN, ec_ok, 1, session, 1);
    bad_pair(s, "bad_sensitive_extractable", CKM_EC_KEY_PAIR_GEN, ec_ok, 1, both, 1);
    bad_pair(s, "bad_class", CKM_EC_KEY_PAIR_GEN, ec_ok, 1, bad_class, 1);
    bad_pair(s, "bad_bool_size", CKM_EC_KEY_PAIR_GEN, ec_ok, 1, bad_bool, 1);
    bad_pair(s, "bad_key_type", CKM_EC_KEY_PAIR_GEN, ec_rsa_type, 2, NULL, 0);
    bad_pair(s, "bad_ec_params", CKM_EC_KEY_PAIR_GEN, ec_junk, 1, NULL, 0);
    bad_pair(s, "bad_curve", CKM_EC_KEY_PAIR_GEN, ec_k1, 1, NULL, 0);
    bad_pair(s, "bad_modulus_bits", CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_odd, 1, NULL, 0);
    bad_pair(s, "bad_exponent", CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_e3, 1, NULL, 0);
    CK_ATTRIBUTE verify_pub[] = {{CKA_EC_PARAMS, (void*)p256, sizeof p256}, {CKA_VERIFY, &yes, 1}};
    CK_ATTRIBUTE no_decrypt[] = {{CKA_DECRYPT, &no, 1}};
    bad_pair(s, "usage_conflict", CKM_EC_KEY_PAIR_GEN, verify_pub, 2, no_decrypt, 1);
    bad_pair(s, "no_ec_params", CKM_EC_KEY_PAIR_GEN, NULL, 0, NULL, 0);
    bad_pair(s, "ec_params_in_private", CKM_EC_KEY_PAIR_GEN, ec_ok, 1, ec_ok, 1);

    p11_case("bad_mechanism_param");
    CK_ULONG param = 1;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, &param, sizeof param};
    p11_rv("rv", F->C_GenerateKeyPair(s, &mech, ec_ok, 1, NULL, 0, &pub, &priv));
  }

  /* C_GenerateKey: AES in the TPM (upstream 1.9.0 does not implement C_GenerateKey). */
  {
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE key = 0;
    CK_ULONG len16 = 16, len32 = 32, len20 = 20;
    const char* label = "aes";
    CK_ATTRIBUTE t16[] = {{CKA_TOKEN, &yes, 1},
                          {CKA_VALUE_LEN, &len16, sizeof len16},
                          {CKA_ENCRYPT, &yes, 1},
                          {CKA_DECRYPT, &yes, 1},
                          {CKA_LABEL, (void*)label, (CK_ULONG)strlen(label)}};
    CK_ATTRIBUTE t32[] = {{CKA_VALUE_LEN, &len32, sizeof len32}};
    CK_ATTRIBUTE t20[] = {{CKA_VALUE_LEN, &len20, sizeof len20}};
    p11_case("aes128");
    if (p11_rv("rv", F->C_GenerateKey(s, &mech, t16, 5, &key)) == CKR_OK) {
      p11_report_ulong(s, key, "class", CKA_CLASS);
      p11_report_ulong(s, key, "key_type", CKA_KEY_TYPE);
      p11_report_ulong(s, key, "value_len", CKA_VALUE_LEN);
      p11_report_bool(s, key, "encrypt", CKA_ENCRYPT);
      report_bytes(s, key, "label", CKA_LABEL, 1);
    }
    p11_case("aes256");
    if (p11_rv("rv", F->C_GenerateKey(s, &mech, t32, 1, &key)) == CKR_OK) {
      p11_report_ulong(s, key, "value_len", CKA_VALUE_LEN);
    }
    p11_case("aes_bad_len");
    p11_rv("rv", F->C_GenerateKey(s, &mech, t20, 1, &key));
    p11_case("aes_no_len");
    p11_rv("rv", F->C_GenerateKey(s, &mech, NULL, 0, &key));
  }

  P11_MUST(F->C_CloseSession(s));
  p11_done();
  return 0;
}
