/* SPDX-License-Identifier: BSD-2-Clause */
/* Signing and verifying with every signing mechanism, checked by C_Verify and by OpenSSL
 * from the public key's attributes; session states and operation-state errors (see
 * p11case.h). Keys: k256 (P-256), k384 (P-384), krsa (RSA-2048), as p11_common.provision
 * makes them.
 *
 * `p11case_sign MODULE lockout N` instead tries N wrong user PINs and then the right one,
 * printing each C_Login's rv (run on a TPM with a low dictionary-attack threshold). */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "p11case.h"

static const unsigned char k_message[] = "side-by-side signing test message";
#define MESSAGE_LEN (sizeof k_message - 1)

/* DER DigestInfo prefix for SHA-256 (RFC 8017 9.2, note 1). */
static const unsigned char k_sha256_digestinfo[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                    0x01, 0x05, 0x00, 0x04, 0x20};

enum family { EC_RAW, EC_HASH, RSA_RAW, RSA_HASH, PSS_RAW, PSS_HASH };

struct mech
{
  const char* name;
  CK_MECHANISM_TYPE type;
  enum family family;
  const char* md; /* message digest (hashing mechanisms) or the digest the raw input is of */
  CK_MECHANISM_TYPE hash;
  CK_RSA_PKCS_MGF_TYPE mgf;
};

static const struct mech k_mechs[] = {
  {"ecdsa", CKM_ECDSA, EC_RAW, "SHA256", CKM_SHA256, 0},
  {"ecdsa_sha1", CKM_ECDSA_SHA1, EC_HASH, "SHA1", CKM_SHA_1, 0},
  {"ecdsa_sha256", CKM_ECDSA_SHA256, EC_HASH, "SHA256", CKM_SHA256, 0},
  {"ecdsa_sha384", CKM_ECDSA_SHA384, EC_HASH, "SHA384", CKM_SHA384, 0},
  {"ecdsa_sha512", CKM_ECDSA_SHA512, EC_HASH, "SHA512", CKM_SHA512, 0},
  {"rsa_pkcs", CKM_RSA_PKCS, RSA_RAW, "SHA256", CKM_SHA256, 0},
  {"sha1_rsa_pkcs", CKM_SHA1_RSA_PKCS, RSA_HASH, "SHA1", CKM_SHA_1, 0},
  {"sha256_rsa_pkcs", CKM_SHA256_RSA_PKCS, RSA_HASH, "SHA256", CKM_SHA256, 0},
  {"sha384_rsa_pkcs", CKM_SHA384_RSA_PKCS, RSA_HASH, "SHA384", CKM_SHA384, 0},
  {"sha512_rsa_pkcs", CKM_SHA512_RSA_PKCS, RSA_HASH, "SHA512", CKM_SHA512, 0},
  {"rsa_pkcs_pss", CKM_RSA_PKCS_PSS, PSS_RAW, "SHA256", CKM_SHA256, CKG_MGF1_SHA256},
  {"sha1_rsa_pkcs_pss", CKM_SHA1_RSA_PKCS_PSS, PSS_HASH, "SHA1", CKM_SHA_1, CKG_MGF1_SHA1},
  {"sha256_rsa_pkcs_pss", CKM_SHA256_RSA_PKCS_PSS, PSS_HASH, "SHA256", CKM_SHA256, CKG_MGF1_SHA256},
  {"sha384_rsa_pkcs_pss", CKM_SHA384_RSA_PKCS_PSS, PSS_HASH, "SHA384", CKM_SHA384, CKG_MGF1_SHA384},
  {"sha512_rsa_pkcs_pss", CKM_SHA512_RSA_PKCS_PSS, PSS_HASH, "SHA512", CKM_SHA512, CKG_MGF1_SHA512},
};
#define N_MECHS (sizeof k_mechs / sizeof k_mechs[0])

static int
is_ec(const struct mech* m)
{
  return m->family == EC_RAW || m->family == EC_HASH;
}

/* --------------------------------------------------------------------------
 * The public key, from the public object's attributes, as OpenSSL sees it
 * -------------------------------------------------------------------------- */

static CK_ULONG
get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, unsigned char* buf,
         CK_ULONG max)
{
  CK_ATTRIBUTE a = {type, buf, max};
  if (F->C_GetAttributeValue(h, o, &a, 1) != CKR_OK || a.ulValueLen == (CK_ULONG)-1) {
    return 0;
  }
  return a.ulValueLen;
}

static EVP_PKEY*
openssl_public_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, int ec)
{
  unsigned char a[1024], b[1024];
  EVP_PKEY* key = NULL;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = NULL;
  BIGNUM* n = NULL;
  BIGNUM* e = NULL;
  ASN1_OBJECT* curve = NULL;
  ASN1_OCTET_STRING* point = NULL;
  if (ec) {
    CK_ULONG plen = get_attr(h, pub, CKA_EC_PARAMS, a, sizeof a);
    CK_ULONG qlen = get_attr(h, pub, CKA_EC_POINT, b, sizeof b);
    const unsigned char* p = a;
    const unsigned char* q = b;
    curve = d2i_ASN1_OBJECT(NULL, &p, (long)plen);
    point = d2i_ASN1_OCTET_STRING(NULL, &q, (long)qlen);
    if (!curve || !point) {
      goto out;
    }
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(OBJ_obj2nid(curve)),
                                    0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, ASN1_STRING_get0_data(point),
                                     (size_t)ASN1_STRING_length(point));
  } else {
    CK_ULONG nlen = get_attr(h, pub, CKA_MODULUS, a, sizeof a);
    CK_ULONG elen = get_attr(h, pub, CKA_PUBLIC_EXPONENT, b, sizeof b);
    n = BN_bin2bn(a, (int)nlen, NULL);
    e = BN_bin2bn(b, (int)elen, NULL);
    if (!nlen || !elen || !n || !e) {
      goto out;
    }
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  }
  params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(NULL, ec ? "EC" : "RSA", NULL);
  if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0
      || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
    key = NULL;
  }
  EVP_PKEY_CTX_free(ctx);
out:
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  ASN1_OBJECT_free(curve);
  ASN1_OCTET_STRING_free(point);
  return key;
}

/* r||s (PKCS#11) as a DER ECDSA-Sig-Value (OpenSSL); returns its length, 0 on error. */
static int
ecdsa_der(const unsigned char* sig, size_t len, unsigned char* out, size_t max)
{
  ECDSA_SIG* s = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig, (int)(len / 2), NULL);
  BIGNUM* ss = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
  if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
    ECDSA_SIG_free(s);
    BN_free(r);
    BN_free(ss);
    return 0;
  }
  int n = i2d_ECDSA_SIG(s, NULL);
  unsigned char* p = out;
  if (n <= 0 || (size_t)n > max || i2d_ECDSA_SIG(s, &p) != n) {
    n = 0;
  }
  ECDSA_SIG_free(s);
  return n;
}

static int
pss_params(EVP_PKEY_CTX* ctx, const struct mech* m)
{
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0
         && EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, m->md, NULL) > 0
         && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0;
}

/* Whether OpenSSL accepts `sig` over `msg` (the mechanism's input) for mechanism `m`. */
static int
openssl_verifies(EVP_PKEY* key, const struct mech* m, const unsigned char* in, size_t in_len,
                 const unsigned char* sig, size_t sig_len)
{
  unsigned char der[256];
  const unsigned char* s = sig;
  size_t slen = sig_len;
  if (is_ec(m)) {
    int n = ecdsa_der(sig, sig_len, der, sizeof der);
    if (!n) {
      return 0;
    }
    s = der;
    slen = (size_t)n;
  }
  int ok = 0;
  if (m->family == EC_HASH || m->family == RSA_HASH || m->family == PSS_HASH) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = NULL;
    if (md && EVP_DigestVerifyInit_ex(md, &pctx, m->md, NULL, NULL, key, NULL) > 0
        && (m->family != PSS_HASH || pss_params(pctx, m))) {
      ok = EVP_DigestVerify(md, s, slen, in, in_len) == 1;
    }
    EVP_MD_CTX_free(md);
    return ok;
  }
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  if (ctx && EVP_PKEY_verify_init(ctx) > 0) {
    int set = 1;
    if (m->family == RSA_RAW) {
      set = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
    } else if (m->family == PSS_RAW) {
      set =
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(m->md)) > 0 && pss_params(ctx, m);
    }
    ok = set && EVP_PKEY_verify(ctx, s, slen, in, in_len) == 1;
  }
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

/* --------------------------------------------------------------------------
 * Signing
 * -------------------------------------------------------------------------- */

struct key
{
  const char* label;
  int ec;
  CK_OBJECT_HANDLE priv, pub;
  EVP_PKEY* ossl;
};

/* The mechanism's input: the message (hashing mechanisms), its digest (ECDSA, PSS) or the
 * DigestInfo of its digest (raw RSA PKCS#1). */
static size_t
mechanism_input(const struct mech* m, unsigned char* out)
{
  if (m->family == EC_HASH || m->family == RSA_HASH || m->family == PSS_HASH) {
    memcpy(out, k_message, MESSAGE_LEN);
    return MESSAGE_LEN;
  }
  size_t off = 0;
  if (m->family == RSA_RAW) {
    memcpy(out, k_sha256_digestinfo, sizeof k_sha256_digestinfo);
    off = sizeof k_sha256_digestinfo;
  }
  unsigned int n = 0;
  EVP_Digest(k_message, MESSAGE_LEN, out + off, &n, EVP_get_digestbyname(m->md), NULL);
  return off + n;
}

static void
mechanism_of(const struct mech* m, CK_MECHANISM* out, CK_RSA_PKCS_PSS_PARAMS* pss)
{
  out->mechanism = m->type;
  out->pParameter = NULL;
  out->ulParameterLen = 0;
  if (m->family == PSS_RAW || m->family == PSS_HASH) {
    pss->hashAlg = m->hash;
    pss->mgf = m->mgf;
    pss->sLen = (CK_ULONG)EVP_MD_get_size(EVP_get_digestbyname(m->md));
    out->pParameter = pss;
    out->ulParameterLen = sizeof *pss;
  }
}

static void
sign_case(CK_SESSION_HANDLE h, const struct mech* m, const struct key* k)
{
  char name[96];
  snprintf(name, sizeof name, "%s.%s", m->name, k->label);
  p11_case(name);
  unsigned char in[512];
  size_t in_len = mechanism_input(m, in);
  CK_MECHANISM mech;
  CK_RSA_PKCS_PSS_PARAMS pss;
  mechanism_of(m, &mech, &pss);

  if (p11_rv("init", F->C_SignInit(h, &mech, k->priv)) != CKR_OK) {
    return;
  }
  CK_ULONG len = 0;
  p11_rv("size_rv", F->C_Sign(h, in, (CK_ULONG)in_len, NULL, &len));
  p11_report("size", "%lu", (unsigned long)len);
  unsigned char sig[1024];
  CK_ULONG sig_len = sizeof sig;
  if (p11_rv("sign", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len)) != CKR_OK) {
    return;
  }
  p11_report("sig_len", "%lu", (unsigned long)sig_len);
  p11_report("openssl", "%d", openssl_verifies(k->ossl, m, in, in_len, sig, sig_len));
  P11_MUST(F->C_VerifyInit(h, &mech, k->pub));
  p11_rv("c_verify", F->C_Verify(h, in, (CK_ULONG)in_len, sig, sig_len));
  sig[sig_len / 2] ^= 0x01;
  P11_MUST(F->C_VerifyInit(h, &mech, k->pub));
  p11_rv("c_verify_bad", F->C_Verify(h, in, (CK_ULONG)in_len, sig, sig_len));

  if (m->family == EC_HASH || m->family == RSA_HASH || m->family == PSS_HASH) {
    /* Multi-part: the message in two pieces. */
    P11_MUST(F->C_SignInit(h, &mech, k->priv));
    p11_rv("update1", F->C_SignUpdate(h, in, 10));
    p11_rv("update2", F->C_SignUpdate(h, in + 10, (CK_ULONG)in_len - 10));
    sig_len = sizeof sig;
    if (p11_rv("final", F->C_SignFinal(h, sig, &sig_len)) == CKR_OK) {
      p11_report("final_openssl", "%d", openssl_verifies(k->ossl, m, in, in_len, sig, sig_len));
      P11_MUST(F->C_VerifyInit(h, &mech, k->pub));
      p11_rv("verify_update", F->C_VerifyUpdate(h, in, (CK_ULONG)in_len));
      p11_rv("verify_final", F->C_VerifyFinal(h, sig, sig_len));
    }
  }
}

/* --------------------------------------------------------------------------
 * Session states and operation errors
 * -------------------------------------------------------------------------- */

static void
session_state(const char* key, CK_SESSION_HANDLE h)
{
  CK_SESSION_INFO info;
  memset(&info, 0xff, sizeof info);
  CK_RV rv = F->C_GetSessionInfo(h, &info);
  if (rv != CKR_OK) {
    p11_rv(key, rv);
    return;
  }
  p11_report(key, "state=%lu flags=0x%lx", (unsigned long)info.state, (unsigned long)info.flags);
}

/* A C_SignInit that should be refused; when a module accepts it anyway, the operation it
 * started is ended with a C_Sign (its rv printed too) so the next case starts clean. */
static void
refused_init(CK_SESSION_HANDLE h, const char* key, CK_MECHANISM* mech, CK_OBJECT_HANDLE obj)
{
  if (p11_rv(key, F->C_SignInit(h, mech, obj)) == CKR_OK) {
    unsigned char in[32] = {0};
    unsigned char sig[1024];
    CK_ULONG sig_len = sizeof sig;
    char then[96];
    snprintf(then, sizeof then, "%s_then_sign", key);
    p11_rv(then, F->C_Sign(h, in, sizeof in, sig, &sig_len));
  }
}

static void
operation_errors(CK_SESSION_HANDLE h, const struct key* ec, const struct key* rsa)
{
  p11_case("operation");
  unsigned char in[64];
  size_t in_len = mechanism_input(&k_mechs[2], in); /* ECDSA_SHA256: the message */
  unsigned char sig[1024];
  CK_ULONG sig_len = sizeof sig;
  CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};

  p11_rv("sign_without_init", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));
  p11_rv("update_without_init", F->C_SignUpdate(h, in, (CK_ULONG)in_len));
  sig_len = sizeof sig;
  p11_rv("final_without_init", F->C_SignFinal(h, sig, &sig_len));
  p11_rv("verify_without_init", F->C_Verify(h, in, (CK_ULONG)in_len, sig, 64));

  p11_rv("init", F->C_SignInit(h, &ecdsa, ec->priv));
  p11_rv("init_again", F->C_SignInit(h, &ecdsa, ec->priv));
  p11_rv("verify_init_while_signing", F->C_VerifyInit(h, &ecdsa, ec->pub));
  sig_len = 8;
  p11_rv("sign_small_buffer", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));
  p11_report("small_buffer_len", "%lu", (unsigned long)sig_len);
  sig_len = sizeof sig;
  p11_rv("sign_after_small_buffer", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));
  p11_report("sig_len", "%lu", (unsigned long)sig_len);
  sig_len = sizeof sig;
  p11_rv("sign_after_done", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));

  /* A multi-part operation cannot be finished with the single-part call. */
  P11_MUST(F->C_SignInit(h, &ecdsa, ec->priv));
  p11_rv("update", F->C_SignUpdate(h, in, (CK_ULONG)in_len));
  sig_len = sizeof sig;
  p11_rv("sign_after_update", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));
  sig_len = sizeof sig;
  p11_rv("final_after_sign_after_update", F->C_SignFinal(h, sig, &sig_len));

  p11_rv("verify_init", F->C_VerifyInit(h, &ecdsa, ec->pub));
  p11_rv("verify_init_again", F->C_VerifyInit(h, &ecdsa, ec->pub));
  p11_rv("verify_bad_length", F->C_Verify(h, in, (CK_ULONG)in_len, sig, 3));
  p11_rv("verify_after_done", F->C_Verify(h, in, (CK_ULONG)in_len, sig, 64));

  CK_MECHANISM rsa_pkcs = {CKM_SHA256_RSA_PKCS, NULL, 0};
  CK_MECHANISM md5 = {CKM_MD5_RSA_PKCS, NULL, 0};
  CK_MECHANISM pss_no_params = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
  CK_RSA_PKCS_PSS_PARAMS mixed = {CKM_SHA256, CKG_MGF1_SHA384, 32};
  CK_MECHANISM pss_mixed = {CKM_SHA256_RSA_PKCS_PSS, &mixed, sizeof mixed};
  refused_init(h, "ecdsa_on_rsa_key", &ecdsa, rsa->priv);
  refused_init(h, "rsa_on_ec_key", &rsa_pkcs, ec->priv);
  refused_init(h, "unknown_mechanism", &md5, rsa->priv);
  refused_init(h, "pss_without_params", &pss_no_params, rsa->priv);
  refused_init(h, "pss_mixed_hashes", &pss_mixed, rsa->priv);
  refused_init(h, "sign_with_public_key", &ecdsa, ec->pub);
  refused_init(h, "bad_key_handle", &ecdsa, (CK_OBJECT_HANDLE)0x7fff0000);
  sig_len = sizeof sig;
  p11_rv("sign_after_refused_inits", F->C_Sign(h, in, (CK_ULONG)in_len, sig, &sig_len));
}

static struct key
key_of(CK_SESSION_HANDLE h, const char* label, int ec)
{
  struct key k = {label, ec, CK_INVALID_HANDLE, CK_INVALID_HANDLE, NULL};
  k.priv = p11_find_labelled(h, CKO_PRIVATE_KEY, label);
  k.pub = p11_find_labelled(h, CKO_PUBLIC_KEY, label);
  if (k.priv == CK_INVALID_HANDLE || k.pub == CK_INVALID_HANDLE) {
    fprintf(stderr, "key %s not found\n", label);
    exit(3);
  }
  k.ossl = openssl_public_key(h, k.pub, ec);
  if (!k.ossl) {
    fprintf(stderr, "key %s: OpenSSL cannot read the public key attributes\n", label);
    exit(3);
  }
  return k;
}

static int
lockout(CK_SLOT_ID slot, int tries)
{
  CK_SESSION_HANDLE h = p11_open_rw(slot);
  p11_case("lockout");
  char key[32];
  for (int i = 1; i <= tries; i++) {
    snprintf(key, sizeof key, "wrong_%d", i);
    p11_rv(key, p11_login(h, CKU_USER, "not-the-pin"));
  }
  p11_rv("right_pin", p11_login(h, CKU_USER, p11_user_pin()));
  CK_TOKEN_INFO ti;
  P11_MUST(F->C_GetTokenInfo(slot, &ti));
  p11_report(
    "pin_flags", "0x%lx",
    (unsigned long)(ti.flags
                    & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)));
  p11_rv("close", F->C_CloseSession(h));
  p11_done();
  return 0;
}

int
main(int argc, char** argv)
{
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  if (argc > 3 && strcmp(argv[2], "lockout") == 0) {
    return lockout(slot, atoi(argv[3]));
  }

  CK_SESSION_HANDLE h = p11_open_rw(slot);
  CK_SESSION_HANDLE ro = 0;
  P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));

  p11_case("session");
  session_state("rw_before_login", h);
  session_state("ro_before_login", ro);
  CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
  CK_OBJECT_HANDLE pub256 = p11_find_labelled(h, CKO_PUBLIC_KEY, "k256");
  p11_report("private_key_found_before_login", "%d",
             p11_find_labelled(h, CKO_PRIVATE_KEY, "k256") != CK_INVALID_HANDLE);
  p11_rv("verify_init_before_login", F->C_VerifyInit(h, &ecdsa, pub256));
  unsigned char junk[64] = {0};
  p11_rv("verify_before_login", F->C_Verify(h, junk, 8, junk, 64));
  p11_rv("login", p11_login(h, CKU_USER, p11_user_pin()));
  session_state("rw_after_login", h);
  session_state("ro_after_login", ro);
  CK_SESSION_HANDLE late = 0;
  P11_MUST(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &late));
  session_state("ro_opened_after_login", late);
  p11_rv("login_again", p11_login(h, CKU_USER, p11_user_pin()));

  struct key keys[] = {key_of(h, "k256", 1), key_of(h, "k384", 1), key_of(h, "krsa", 0)};

  p11_case("mechanisms");
  CK_MECHANISM_TYPE listed[128];
  CK_ULONG n_listed = 128;
  P11_MUST(F->C_GetMechanismList(slot, listed, &n_listed));
  for (size_t i = 0; i < N_MECHS; i++) {
    const struct mech* m = &k_mechs[i];
    int is_listed = 0;
    for (CK_ULONG j = 0; j < n_listed; j++) {
      is_listed |= listed[j] == m->type;
    }
    CK_MECHANISM_INFO info;
    memset(&info, 0, sizeof info);
    CK_RV rv = F->C_GetMechanismInfo(slot, m->type, &info);
    char key[64];
    snprintf(key, sizeof key, "%s", m->name);
    p11_report(key, "listed=%d rv=0x%lx sign=%d verify=%d", is_listed, (unsigned long)rv,
               !!(info.flags & CKF_SIGN), !!(info.flags & CKF_VERIFY));
    if (!is_listed) {
      continue;
    }
    for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
      if (keys[j].ec == is_ec(m)) {
        sign_case(h, m, &keys[j]);
      }
    }
    p11_case("mechanisms");
  }

  /* The same session, signing on the read-only session of the same login. */
  p11_case("ro_session");
  unsigned char in[64];
  size_t in_len = mechanism_input(&k_mechs[2], in);
  unsigned char sig[128];
  CK_ULONG sig_len = sizeof sig;
  p11_rv("init", F->C_SignInit(ro, &ecdsa, keys[0].priv));
  p11_rv("sign", F->C_Sign(ro, in, (CK_ULONG)in_len, sig, &sig_len));
  p11_report("openssl", "%d",
             openssl_verifies(keys[0].ossl, &k_mechs[2], in, in_len, sig, sig_len));

  operation_errors(h, &keys[0], &keys[2]);

  p11_case("logout");
  p11_rv("logout", F->C_Logout(h));
  session_state("rw_after_logout", h);
  session_state("ro_after_logout", ro);
  p11_rv("sign_init_after_logout", F->C_SignInit(h, &ecdsa, keys[0].priv));
  p11_rv("logout_again", F->C_Logout(h));
  p11_rv("close_ro", F->C_CloseSession(ro));
  p11_rv("close_late", F->C_CloseSession(late));
  session_state("closed", ro);
  p11_rv("close", F->C_CloseSession(h));
  for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
    EVP_PKEY_free(keys[j].ossl);
  }
  p11_done();
  return 0;
}
