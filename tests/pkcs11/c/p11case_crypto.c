/* SPDX-License-Identifier: BSD-2-Clause */
/* Digests, AES, HMAC, RSA encryption and every signing mechanism's verification, and the
 * mechanism list (see p11case.h). AES and HMAC results are deterministic for a key and IV,
 * so both modules must print the same ciphertexts and MACs on copies of one store. */
#include "p11case.h"

static CK_BYTE plain64[64];
static CK_BYTE long_data[3000];

static CK_SLOT_ID g_slot;

/* A new session in place of `h`: an operation upstream leaves active after a failure does
 * not spill into the next probe (the login is the token's, so it stays). */
static CK_SESSION_HANDLE
fresh(CK_SESSION_HANDLE h)
{
  CK_SESSION_HANDLE n = p11_open_rw(g_slot); /* first: closing the last one logs out */
  P11_MUST(F->C_CloseSession(h));
  return n;
}

static CK_OBJECT_HANDLE
find_key(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char* label)
{
  CK_OBJECT_HANDLE o = p11_find_labelled(h, cls, label);
  if (o == CK_INVALID_HANDLE) {
    fprintf(stderr, "no object labelled %s\n", label);
    exit(3);
  }
  return o;
}

static int
mech_cmp(const void* a, const void* b)
{
  CK_MECHANISM_TYPE x = *(const CK_MECHANISM_TYPE*)a, y = *(const CK_MECHANISM_TYPE*)b;
  return x < y ? -1 : x > y;
}

static void
mechanisms(CK_SLOT_ID slot)
{
  p11_case("mechs");
  CK_MECHANISM_TYPE list[128];
  CK_ULONG n = 0;
  p11_rv("count_rv", F->C_GetMechanismList(slot, NULL, &n));
  CK_ULONG small = 1;
  p11_rv("small_rv", F->C_GetMechanismList(slot, list, &small));
  n = 128;
  P11_MUST(F->C_GetMechanismList(slot, list, &n));
  qsort(list, n, sizeof list[0], mech_cmp);
  p11_report("count", "%lu", (unsigned long)n);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_MECHANISM_INFO info;
    char key[64];
    P11_MUST(F->C_GetMechanismInfo(slot, list[i], &info));
    snprintf(key, sizeof key, "flags.0x%lx", (unsigned long)list[i]);
    p11_report(key, "0x%lx", (unsigned long)info.flags);
    snprintf(key, sizeof key, "sizes.0x%lx", (unsigned long)list[i]);
    p11_report(key, "%lu-%lu", (unsigned long)info.ulMinKeySize, (unsigned long)info.ulMaxKeySize);
  }
  CK_MECHANISM_INFO info;
  p11_rv("unknown_rv", F->C_GetMechanismInfo(slot, CKM_AES_GCM, &info));
}

static void
one_digest(CK_SESSION_HANDLE h, const char* name, CK_MECHANISM_TYPE type)
{
  CK_MECHANISM m = {type, NULL, 0};
  CK_BYTE out[64];
  CK_ULONG len = 0;
  char key[64];
  P11_MUST(F->C_DigestInit(h, &m));
  snprintf(key, sizeof key, "%s.query_rv", name);
  p11_rv(key, F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, NULL, &len));
  snprintf(key, sizeof key, "%s.len", name);
  p11_report(key, "%lu", (unsigned long)len);
  CK_ULONG tiny = 4;
  snprintf(key, sizeof key, "%s.small_rv", name);
  p11_rv(key, F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &tiny));
  len = sizeof out;
  snprintf(key, sizeof key, "%s.rv", name);
  p11_rv(key, F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len));
  snprintf(key, sizeof key, "%s.abc", name);
  p11_hex(key, out, len);
  /* multi-part over "a", "bc" must give the same */
  P11_MUST(F->C_DigestInit(h, &m));
  P11_MUST(F->C_DigestUpdate(h, (CK_BYTE_PTR) "a", 1));
  P11_MUST(F->C_DigestUpdate(h, (CK_BYTE_PTR) "bc", 2));
  len = 0;
  snprintf(key, sizeof key, "%s.final_query_rv", name);
  p11_rv(key, F->C_DigestFinal(h, NULL, &len));
  len = sizeof out;
  P11_MUST(F->C_DigestFinal(h, out, &len));
  snprintf(key, sizeof key, "%s.multi", name);
  p11_hex(key, out, len);
}

static CK_SESSION_HANDLE
digests(CK_SESSION_HANDLE h)
{
  p11_case("digest");
  one_digest(h, "sha1", CKM_SHA_1);
  one_digest(h, "sha256", CKM_SHA256);
  one_digest(h, "sha384", CKM_SHA384);
  one_digest(h, "sha512", CKM_SHA512);
  CK_MECHANISM bad = {CKM_MD5, NULL, 0};
  p11_rv("md5_rv", F->C_DigestInit(h, &bad));
  CK_BYTE out[64];
  CK_ULONG len = sizeof out;
  p11_rv("not_initialized_rv", F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len));
  CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
  P11_MUST(F->C_DigestInit(h, &sha));
  p11_rv("active_rv", F->C_DigestInit(h, &sha));
  len = sizeof out;
  P11_MUST(F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len));
  p11_rv("seed_rv", F->C_SeedRandom(h, (CK_BYTE_PTR) "some entropy", 12));
  CK_OBJECT_HANDLE aes_key = find_key(h, CKO_SECRET_KEY, "kaes");
  P11_MUST(F->C_DigestInit(h, &sha));
  p11_rv("digest_key_rv", F->C_DigestKey(h, aes_key));
  CK_ULONG state_len = 0;
  p11_rv("get_state_rv", F->C_GetOperationState(h, NULL, &state_len));
  return fresh(h);
}

static CK_RV
crypt_all(CK_SESSION_HANDLE h, int decrypt, CK_MECHANISM* m, CK_OBJECT_HANDLE key,
          const CK_BYTE* in, CK_ULONG in_len, CK_BYTE* out, CK_ULONG* out_len)
{
  CK_RV rv = decrypt ? F->C_DecryptInit(h, m, key) : F->C_EncryptInit(h, m, key);
  if (rv != CKR_OK) {
    return rv;
  }
  return decrypt ? F->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len)
                 : F->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* Each mode in its own session: an operation upstream leaves active after a failure does
 * not spill into the next mode. */
static void
aes_mode(CK_SESSION_HANDLE h0, CK_OBJECT_HANDLE key, const char* name, CK_MECHANISM* m,
         CK_ULONG in_len)
{
  (void)h0;
  CK_SESSION_HANDLE h = p11_open_rw(g_slot);
  char k[64];
  CK_BYTE cipher[128], back[128], multi[128];
  CK_ULONG clen = 0;
  P11_MUST(F->C_EncryptInit(h, m, key));
  snprintf(k, sizeof k, "%s.query_rv", name);
  p11_rv(k, F->C_Encrypt(h, plain64, in_len, NULL, &clen));
  snprintf(k, sizeof k, "%s.query_len", name);
  p11_report(k, "%lu", (unsigned long)clen);
  clen = sizeof cipher;
  snprintf(k, sizeof k, "%s.encrypt_rv", name);
  p11_rv(k, F->C_Encrypt(h, plain64, in_len, cipher, &clen));
  snprintf(k, sizeof k, "%s.cipher", name);
  p11_hex(k, cipher, clen);
  CK_ULONG blen = sizeof back;
  snprintf(k, sizeof k, "%s.decrypt_rv", name);
  p11_rv(k, crypt_all(h, 1, m, key, cipher, clen, back, &blen));
  snprintf(k, sizeof k, "%s.roundtrip", name);
  p11_report(k, "%d", blen == in_len && memcmp(back, plain64, in_len) == 0);
  /* multi-part, two block-aligned parts (a fresh session: see above) */
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);
  CK_ULONG total = 0, part;
  P11_MUST(F->C_EncryptInit(h, m, key));
  part = sizeof multi;
  P11_MUST(F->C_EncryptUpdate(h, plain64, 32, multi, &part));
  total += part;
  part = sizeof multi - total;
  P11_MUST(F->C_EncryptUpdate(h, plain64 + 32, in_len - 32, multi + total, &part));
  total += part;
  part = sizeof multi - total;
  snprintf(k, sizeof k, "%s.final_rv", name);
  p11_rv(k, F->C_EncryptFinal(h, multi + total, &part));
  total += part;
  snprintf(k, sizeof k, "%s.multi_same", name);
  p11_report(k, "%d", total == clen && memcmp(multi, cipher, clen) == 0);
  P11_MUST(F->C_CloseSession(h));
}

static void
aes(CK_SESSION_HANDLE h)
{
  p11_case("aes");
  CK_OBJECT_HANDLE key = find_key(h, CKO_SECRET_KEY, "kaes");
  CK_BYTE iv[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  CK_AES_CTR_PARAMS ctr = {128, {0}};
  memcpy(ctr.cb, iv, 16);
  CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
  CK_MECHANISM cbc = {CKM_AES_CBC, iv, 16};
  CK_MECHANISM cbc_pad = {CKM_AES_CBC_PAD, iv, 16};
  CK_MECHANISM cfb = {CKM_AES_CFB128, iv, 16};
  CK_MECHANISM ctr_m = {CKM_AES_CTR, &ctr, sizeof ctr};
  aes_mode(h, key, "ecb", &ecb, 64);
  aes_mode(h, key, "cbc", &cbc, 64);
  aes_mode(h, key, "cbc_pad", &cbc_pad, 50);
  aes_mode(h, key, "cbc_pad_aligned", &cbc_pad, 48);
  aes_mode(h, key, "cfb128", &cfb, 64);
  aes_mode(h, key, "ctr", &ctr_m, 64);

  /* A fresh session for each probe: upstream leaves operations active after failures. */
  h = p11_open_rw(g_slot);
  CK_MECHANISM short_iv = {CKM_AES_CBC, iv, 8};
  p11_rv("short_iv_rv", F->C_EncryptInit(h, &short_iv, key));
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);
  CK_MECHANISM no_iv = {CKM_AES_CBC, NULL, 0};
  p11_rv("no_iv_rv", F->C_EncryptInit(h, &no_iv, key));
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);

  /* Longer than one TPM command carries: chunked, and the same in both modules. */
  static CK_BYTE big[3008], big_back[3008];
  CK_ULONG blen = sizeof big;
  p11_rv("long_rv", crypt_all(h, 0, &cbc, key, long_data, 2992, big, &blen));
  p11_report("long_len", "%lu", (unsigned long)blen);
  p11_hex("long_tail", big + blen - 32, 32);
  CK_ULONG back_len = sizeof big_back;
  p11_rv("long_decrypt_rv", crypt_all(h, 1, &cbc, key, big, blen, big_back, &back_len));
  p11_report("long_roundtrip", "%d", back_len == 2992 && memcmp(big_back, long_data, 2992) == 0);

  /* RSA key with an AES mechanism */
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);
  /* CBC without padding takes whole blocks only */
  blen = sizeof big;
  p11_rv("cbc_partial_rv", crypt_all(h, 0, &cbc, key, long_data, 15, big, &blen));
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);
  /* CTR with an 8-bit counter at 0xff: a second block would wrap it */
  CK_AES_CTR_PARAMS ctr8 = {8, {0}};
  ctr8.cb[15] = 0xff;
  CK_MECHANISM ctr8_m = {CKM_AES_CTR, &ctr8, sizeof ctr8};
  blen = sizeof big;
  p11_rv("ctr_one_block_rv", crypt_all(h, 0, &ctr8_m, key, long_data, 16, big, &blen));
  blen = sizeof big;
  p11_rv("ctr_wrap_rv", crypt_all(h, 0, &ctr8_m, key, long_data, 32, big, &blen));
  P11_MUST(F->C_CloseSession(h));
  h = p11_open_rw(g_slot);
  CK_OBJECT_HANDLE rsa = find_key(h, CKO_PUBLIC_KEY, "krsa");
  p11_rv("rsa_key_rv", F->C_EncryptInit(h, &cbc, rsa));
  P11_MUST(F->C_CloseSession(h));
}

static void
hmac(CK_SESSION_HANDLE h, const char* label, const char* name, CK_MECHANISM_TYPE type)
{
  char k[64];
  CK_OBJECT_HANDLE key = find_key(h, CKO_SECRET_KEY, label);
  CK_MECHANISM m = {type, NULL, 0};
  CK_BYTE mac[64], mac2[64];
  CK_ULONG len = 0;
  P11_MUST(F->C_SignInit(h, &m, key));
  snprintf(k, sizeof k, "%s.query_rv", name);
  p11_rv(k, F->C_Sign(h, (CK_BYTE_PTR) "message", 7, NULL, &len));
  snprintf(k, sizeof k, "%s.len", name);
  p11_report(k, "%lu", (unsigned long)len);
  len = sizeof mac;
  P11_MUST(F->C_Sign(h, (CK_BYTE_PTR) "message", 7, mac, &len));
  snprintf(k, sizeof k, "%s.mac", name);
  p11_hex(k, mac, len);
  P11_MUST(F->C_VerifyInit(h, &m, key));
  snprintf(k, sizeof k, "%s.verify_rv", name);
  p11_rv(k, F->C_Verify(h, (CK_BYTE_PTR) "message", 7, mac, len));
  mac[0] ^= 1;
  P11_MUST(F->C_VerifyInit(h, &m, key));
  snprintf(k, sizeof k, "%s.verify_bad_rv", name);
  p11_rv(k, F->C_Verify(h, (CK_BYTE_PTR) "message", 7, mac, len));
  P11_MUST(F->C_VerifyInit(h, &m, key));
  snprintf(k, sizeof k, "%s.verify_short_rv", name);
  p11_rv(k, F->C_Verify(h, (CK_BYTE_PTR) "message", 7, mac, len - 1));
  /* multi-part, and data longer than one TPM2_HMAC carries */
  P11_MUST(F->C_SignInit(h, &m, key));
  P11_MUST(F->C_SignUpdate(h, long_data, 1000));
  P11_MUST(F->C_SignUpdate(h, long_data + 1000, 2000));
  CK_ULONG len2 = sizeof mac2;
  P11_MUST(F->C_SignFinal(h, mac2, &len2));
  snprintf(k, sizeof k, "%s.long_mac", name);
  p11_hex(k, mac2, len2);
}

static CK_SESSION_HANDLE
public_key_ops(CK_SESSION_HANDLE h)
{
  p11_case("rsa");
  CK_OBJECT_HANDLE pub = find_key(h, CKO_PUBLIC_KEY, "krsa");
  CK_OBJECT_HANDLE priv = find_key(h, CKO_PRIVATE_KEY, "krsa");
  CK_BYTE cipher[512], back[512];
  CK_ULONG clen, blen;
  CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL, 0};
  CK_RSA_PKCS_OAEP_PARAMS oaep_p = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
  CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &oaep_p, sizeof oaep_p};
  CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0};
  struct
  {
    const char* name;
    CK_MECHANISM* m;
    CK_ULONG len;
  } modes[] = {{"pkcs", &pkcs, 40}, {"oaep", &oaep, 40}, {"x509", &raw, 256}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    char k[64];
    CK_BYTE in[256];
    h = fresh(h);
    memcpy(in, long_data, modes[i].len);
    in[0] = 0x01; /* raw: below the modulus */
    P11_MUST(F->C_EncryptInit(h, modes[i].m, pub));
    clen = 0;
    snprintf(k, sizeof k, "%s.query_rv", modes[i].name);
    p11_rv(k, F->C_Encrypt(h, in, modes[i].len, NULL, &clen));
    snprintf(k, sizeof k, "%s.query_len", modes[i].name);
    p11_report(k, "%lu", (unsigned long)clen);
    /* clen: the size the query gave (upstream writes its whole buffer when given more) */
    snprintf(k, sizeof k, "%s.encrypt_rv", modes[i].name);
    p11_rv(k, F->C_Encrypt(h, in, modes[i].len, cipher, &clen));
    snprintf(k, sizeof k, "%s.cipher_len", modes[i].name);
    p11_report(k, "%lu", (unsigned long)clen);
    if (modes[i].m == &raw) {
      snprintf(k, sizeof k, "%s.cipher", modes[i].name);
      p11_hex(k, cipher, clen);
    }
    blen = sizeof back;
    snprintf(k, sizeof k, "%s.decrypt_rv", modes[i].name);
    p11_rv(k, crypt_all(h, 1, modes[i].m, priv, cipher, clen, back, &blen));
    snprintf(k, sizeof k, "%s.roundtrip", modes[i].name);
    p11_report(k, "%d", blen == modes[i].len && memcmp(back, in, blen) == 0);
  }
  h = fresh(h);
  CK_BYTE too_long[300] = {0};
  P11_MUST(F->C_EncryptInit(h, &pkcs, pub));
  clen = sizeof cipher;
  p11_rv("pkcs_too_long_rv", F->C_Encrypt(h, too_long, 250, cipher, &clen));
  return fresh(h);
}

static void
sign_verify(CK_SESSION_HANDLE h, const char* label, const char* name, CK_MECHANISM* m,
            CK_ULONG data_len)
{
  char k[64];
  CK_OBJECT_HANDLE priv = find_key(h, CKO_PRIVATE_KEY, label);
  CK_OBJECT_HANDLE pub = find_key(h, CKO_PUBLIC_KEY, label);
  CK_BYTE sig[512];
  CK_ULONG len = sizeof sig;
  P11_MUST(F->C_SignInit(h, m, priv));
  snprintf(k, sizeof k, "%s.sign_rv", name);
  p11_rv(k, F->C_Sign(h, long_data, data_len, sig, &len));
  snprintf(k, sizeof k, "%s.sig_len", name);
  p11_report(k, "%lu", (unsigned long)len);
  if (m->mechanism == CKM_RSA_X_509) {
    snprintf(k, sizeof k, "%s.sig", name);
    p11_hex(k, sig, len);
  }
  P11_MUST(F->C_VerifyInit(h, m, pub));
  snprintf(k, sizeof k, "%s.verify_rv", name);
  p11_rv(k, F->C_Verify(h, long_data, data_len, sig, len));
  P11_MUST(F->C_VerifyInit(h, m, pub));
  P11_MUST(F->C_VerifyUpdate(h, long_data, data_len / 2));
  P11_MUST(F->C_VerifyUpdate(h, long_data + data_len / 2, data_len - data_len / 2));
  snprintf(k, sizeof k, "%s.verify_multi_rv", name);
  p11_rv(k, F->C_VerifyFinal(h, sig, len));
  sig[len / 2] ^= 0x40;
  P11_MUST(F->C_VerifyInit(h, m, pub));
  snprintf(k, sizeof k, "%s.verify_bad_rv", name);
  p11_rv(k, F->C_Verify(h, long_data, data_len, sig, len));
}

static void
verifies(CK_SESSION_HANDLE h)
{
  p11_case("verify");
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM ms[] = {
    {CKM_ECDSA, NULL, 0},
    {CKM_ECDSA_SHA1, NULL, 0},
    {CKM_ECDSA_SHA256, NULL, 0},
    {CKM_ECDSA_SHA384, NULL, 0},
    {CKM_ECDSA_SHA512, NULL, 0},
    {CKM_RSA_PKCS, NULL, 0},
    {CKM_SHA1_RSA_PKCS, NULL, 0},
    {CKM_SHA256_RSA_PKCS, NULL, 0},
    {CKM_SHA384_RSA_PKCS, NULL, 0},
    {CKM_SHA512_RSA_PKCS, NULL, 0},
    {CKM_RSA_PKCS_PSS, &pss, sizeof pss},
    {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss},
    {CKM_RSA_X_509, NULL, 0},
  };
  const char* names[] = {"ecdsa",           "ecdsa_sha1",      "ecdsa_sha256",  "ecdsa_sha384",
                         "ecdsa_sha512",    "rsa_pkcs",        "sha1_rsa_pkcs", "sha256_rsa_pkcs",
                         "sha384_rsa_pkcs", "sha512_rsa_pkcs", "rsa_pss",       "sha256_rsa_pss",
                         "rsa_x509"};
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
    int ec = i < 5;
    CK_ULONG len = ec ? (i == 0 ? 32 : 100) : (i == 5 ? 35 : i == 10 ? 32 : i == 12 ? 256 : 100);
    long_data[0] = i == 12 ? 0x01 : long_data[0];
    sign_verify(h, ec ? "k256" : "krsa", names[i], &ms[i], len);
  }
}

int
main(int argc, char** argv)
{
  for (size_t i = 0; i < sizeof plain64; i++) {
    plain64[i] = (CK_BYTE)(i * 7 + 3);
  }
  for (size_t i = 0; i < sizeof long_data; i++) {
    long_data[i] = (CK_BYTE)(i * 13 + 5);
  }
  p11_load(argc, argv);
  CK_SLOT_ID slot = p11_slot();
  g_slot = slot;
  mechanisms(slot);
  CK_SESSION_HANDLE h = p11_open_rw(slot);
  /* Before login ours digests (no TPM, no PIN needed); upstream says CKR_USER_NOT_LOGGED_IN. */
  p11_case("digest_before_login");
  CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
  CK_BYTE out[32];
  CK_ULONG out_len = sizeof out;
  if (p11_rv("init_rv", F->C_DigestInit(h, &sha)) == CKR_OK) {
    p11_rv("rv", F->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &out_len));
  }
  P11_MUST(p11_login(h, CKU_USER, p11_user_pin()));
  h = digests(h);
  aes(h);
  p11_case("hmac");
  hmac(h, "khmac1", "sha1", CKM_SHA_1_HMAC);
  hmac(h, "khmac256", "sha256", CKM_SHA256_HMAC);
  hmac(h, "khmac512", "sha512", CKM_SHA512_HMAC);
  h = public_key_ops(h);
  verifies(h);
  P11_MUST(F->C_CloseSession(h));
  p11_done();
  return 0;
}
