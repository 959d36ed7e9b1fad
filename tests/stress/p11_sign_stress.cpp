// SPDX-License-Identifier: BSD-2-Clause
// Multi-threaded C_Sign stress for a PKCS#11 module: every thread opens its own
// session, logs in and signs with the token's P-256 key and its RSA key; every signature is
// verified with OpenSSL against the public key the module itself returns. Meant to run under
// ASan and TSan, so it owns every handle and checks every return value.
//
//   p11_sign_stress <module.so> [threads] [ecdsa-signs-per-thread] [rsa-signs-per-thread]
//   user PIN: $P11_STRESS_PIN
//
// Exit status: 0 when every call succeeded and every signature verified, 1 otherwise.
#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;

struct DlCloser
{
  void operator()(void* h) const { dlclose(h); }
};
struct Finalizer
{
  void operator()(CK_FUNCTION_LIST* fl) const { fl->C_Finalize(nullptr); }
};
struct PkeyFree
{
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree
{
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree
{
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BnFree
{
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree
{
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree
{
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree
{
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// DER of the P-256 OID as CKA_EC_PARAMS holds it.
const Bytes k_p256_params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

std::string
rv_text(const char* what, CK_RV rv)
{
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%lx", static_cast<unsigned long>(rv));
  return std::string(what) + " returned " + buf;
}

void
check(const char* what, CK_RV rv)
{
  if (rv != CKR_OK) {
    throw std::runtime_error(rv_text(what, rv));
  }
}

// A key pair as the module lists it: the private handle signs, the public key verifies.
struct KeyPair
{
  CK_OBJECT_HANDLE m_private = 0;
  Pkey m_public;
};

class Stress
{
public:
  explicit Stress(CK_FUNCTION_LIST* fl) : m_fl(fl) {}

  CK_SLOT_ID
  first_token_slot()
  {
    // The first initialized token (the module also lists a spare slot for C_InitToken).
    std::array<CK_SLOT_ID, 16> slots{};
    CK_ULONG n = slots.size();
    check("C_GetSlotList", m_fl->C_GetSlotList(CK_TRUE, slots.data(), &n));
    for (CK_ULONG i = 0; i < n; ++i) {
      CK_TOKEN_INFO info{};
      if (m_fl->C_GetTokenInfo(slots[i], &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED)) {
        return slots[i];
      }
    }
    throw std::runtime_error("no slot with an initialized token");
  }

  CK_SESSION_HANDLE
  open_and_login(CK_SLOT_ID slot, const std::string& pin)
  {
    CK_SESSION_HANDLE h = 0;
    check("C_OpenSession", m_fl->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &h));
    auto* p = reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data()));
    CK_RV rv = m_fl->C_Login(h, CKU_USER, p, pin.size());
    // Login state is shared by all sessions of the application: only the first one logs in.
    if (rv != CKR_USER_ALREADY_LOGGED_IN) {
      check("C_Login", rv);
    }
    return h;
  }

  Bytes attribute(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
  {
    CK_ATTRIBUTE a{type, nullptr, 0};
    check("C_GetAttributeValue (size)", m_fl->C_GetAttributeValue(h, o, &a, 1));
    Bytes value(a.ulValueLen);
    a.pValue = value.data();
    check("C_GetAttributeValue", m_fl->C_GetAttributeValue(h, o, &a, 1));
    value.resize(a.ulValueLen);
    return value;
  }

  std::vector<CK_OBJECT_HANDLE> find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, CK_KEY_TYPE type,
                                     const Bytes* id)
  {
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof(cls)},
                                      {CKA_KEY_TYPE, &type, sizeof(type)}};
    if (id != nullptr) {
      tmpl.push_back({CKA_ID, const_cast<unsigned char*>(id->data()), id->size()});
    }
    check("C_FindObjectsInit", m_fl->C_FindObjectsInit(h, tmpl.data(), tmpl.size()));
    std::vector<CK_OBJECT_HANDLE> found(16);
    CK_ULONG n = 0;
    CK_RV rv = m_fl->C_FindObjects(h, found.data(), found.size(), &n);
    check("C_FindObjectsFinal", m_fl->C_FindObjectsFinal(h));
    check("C_FindObjects", rv);
    found.resize(n);
    return found;
  }

  // The first private key of `type` and an OpenSSL copy of its public twin (same CKA_ID).
  KeyPair key_pair(CK_SESSION_HANDLE h, CK_KEY_TYPE type)
  {
    auto privs = find(h, CKO_PRIVATE_KEY, type, nullptr);
    if (privs.empty()) {
      throw std::runtime_error(type == CKK_EC ? "no EC private key" : "no RSA private key");
    }
    KeyPair kp;
    kp.m_private = privs.front();
    Bytes id = attribute(h, kp.m_private, CKA_ID);
    auto pubs = find(h, CKO_PUBLIC_KEY, type, &id);
    if (pubs.empty()) {
      throw std::runtime_error("private key without a public key of the same CKA_ID");
    }
    kp.m_public = type == CKK_EC ? ec_public(h, pubs.front()) : rsa_public(h, pubs.front());
    return kp;
  }

  Bytes sign(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech, const Bytes& msg)
  {
    CK_MECHANISM m{mech, nullptr, 0};
    check("C_SignInit", m_fl->C_SignInit(h, &m, key));
    // Two-call protocol: length first (the operation stays active), then the signature.
    CK_ULONG len = 0;
    auto* data = const_cast<unsigned char*>(msg.data());
    check("C_Sign (size)", m_fl->C_Sign(h, data, msg.size(), nullptr, &len));
    Bytes sig(len);
    check("C_Sign", m_fl->C_Sign(h, data, msg.size(), sig.data(), &len));
    sig.resize(len);
    return sig;
  }

  CK_RV
  close(CK_SESSION_HANDLE h) { return m_fl->C_CloseSession(h); }

private:
  Pkey ec_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub)
  {
    if (attribute(h, pub, CKA_EC_PARAMS) != k_p256_params) {
      throw std::runtime_error("EC key is not on P-256");
    }
    // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (65 bytes for P-256).
    Bytes der = attribute(h, pub, CKA_EC_POINT);
    if (der.size() != 67 || der[0] != 0x04 || der[1] != 65) {
      throw std::runtime_error("unexpected CKA_EC_POINT encoding");
    }
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, der.data() + 2, 65);
    return from_params("EC", bld.get());
  }

  Pkey rsa_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub)
  {
    Bytes n = attribute(h, pub, CKA_MODULUS);
    Bytes e = attribute(h, pub, CKA_PUBLIC_EXPONENT);
    std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
    std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    return from_params("RSA", bld.get());
  }

  static Pkey from_params(const char* type, OSSL_PARAM_BLD* bld)
  {
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1
        || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
      throw std::runtime_error(std::string("cannot build an OpenSSL ") + type + " public key");
    }
    return Pkey(key);
  }

  CK_FUNCTION_LIST* m_fl;
};

// PKCS#11 ECDSA signatures are r||s; OpenSSL verifies DER.
Bytes
ecdsa_der(const Bytes& raw)
{
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  size_t half = raw.size() / 2;
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
  if (ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  Bytes der(len > 0 ? static_cast<size_t>(len) : 0);
  unsigned char* p = der.data();
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

bool
verifies(EVP_PKEY* key, const Bytes& msg, const Bytes& sig)
{
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1
         && EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

struct Counts
{
  std::atomic<unsigned> m_ok{0};
  std::atomic<unsigned> m_failed{0};
  std::mutex m_print; // one failure line at a time
};

void
fail(Counts& c, const std::string& what)
{
  c.m_failed++;
  std::lock_guard lock(c.m_print);
  std::fprintf(stderr, "p11_sign_stress: %s\n", what.c_str());
}

struct Plan
{
  CK_SLOT_ID m_slot = 0;
  std::string m_pin;
  const KeyPair* m_ec = nullptr;
  const KeyPair* m_rsa = nullptr;
  unsigned m_ec_signs = 0;
  unsigned m_rsa_signs = 0;
};

void
worker(Stress& p11, const Plan& plan, unsigned t, Counts& c)
{
  try {
    CK_SESSION_HANDLE h = p11.open_and_login(plan.m_slot, plan.m_pin);
    unsigned ec_left = plan.m_ec_signs;
    unsigned rsa_left = plan.m_rsa_signs;
    for (unsigned i = 0; ec_left + rsa_left > 0; ++i) {
      // Alternate the two keys so RSA and ECDSA operations overlap across threads.
      bool ec = ec_left > 0 && (rsa_left == 0 || i % 2 == 0);
      (ec ? ec_left : rsa_left)--;
      std::string text = "thread " + std::to_string(t) + " sign " + std::to_string(i);
      Bytes msg(text.begin(), text.end());
      const KeyPair& kp = ec ? *plan.m_ec : *plan.m_rsa;
      try {
        Bytes sig = p11.sign(h, kp.m_private, ec ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS, msg);
        if (verifies(kp.m_public.get(), msg, ec ? ecdsa_der(sig) : sig)) {
          c.m_ok++;
        } else {
          fail(c, text + (ec ? " (ECDSA)" : " (RSA)") + ": signature does not verify");
        }
      } catch (const std::exception& e) {
        fail(c, text + ": " + e.what());
      }
    }
    check("C_CloseSession", p11.close(h));
  } catch (const std::exception& e) {
    fail(c, "thread " + std::to_string(t) + ": " + e.what());
  }
}

unsigned
arg_count(int argc, char** argv, int i, unsigned dflt)
{
  return argc > i ? static_cast<unsigned>(std::strtoul(argv[i], nullptr, 10)) : dflt;
}

} // namespace

int
main(int argc, char** argv)
{
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <module.so> [threads] [ecdsa-signs] [rsa-signs]\n", argv[0]);
    return 2;
  }
  const char* pin = std::getenv("P11_STRESS_PIN");
  if (pin == nullptr) {
    std::fprintf(stderr, "p11_sign_stress: set P11_STRESS_PIN to the user PIN\n");
    return 2;
  }
  unsigned threads = arg_count(argc, argv, 2, 4);
  Plan plan;
  plan.m_pin = pin;
  plan.m_ec_signs = arg_count(argc, argv, 3, 500);
  plan.m_rsa_signs = arg_count(argc, argv, 4, 500);

  // RTLD_NODELETE: the module's code stays mapped after dlclose, so LeakSanitizer's report at
  // exit can still name its frames (and its never-destroyed singleton stays reachable).
  std::unique_ptr<void, DlCloser> lib(dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
  if (!lib) {
    std::fprintf(stderr, "p11_sign_stress: %s\n", dlerror());
    return 1;
  }
  Counts counts;
  auto start = std::chrono::steady_clock::now();
  try {
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib.get(), "C_GetFunctionList"));
    if (get == nullptr) {
      throw std::runtime_error("C_GetFunctionList not exported");
    }
    CK_FUNCTION_LIST* fl = nullptr;
    check("C_GetFunctionList", get(&fl));
    CK_C_INITIALIZE_ARGS init{};
    init.flags = CKF_OS_LOCKING_OK;
    check("C_Initialize", fl->C_Initialize(&init));
    // C_Finalize on every way out, so that a failed run is checked for leaks as well.
    std::unique_ptr<CK_FUNCTION_LIST, Finalizer> finalize_on_exit(fl);
    Stress p11(fl);
    plan.m_slot = p11.first_token_slot();
    CK_SESSION_HANDLE main_session = p11.open_and_login(plan.m_slot, plan.m_pin);
    KeyPair ec = p11.key_pair(main_session, CKK_EC);
    KeyPair rsa = p11.key_pair(main_session, CKK_RSA);
    plan.m_ec = &ec;
    plan.m_rsa = &rsa;

    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back(worker, std::ref(p11), std::cref(plan), t, std::ref(counts));
    }
    for (auto& th : pool) {
      th.join();
    }
    check("C_CloseSession", p11.close(main_session));
    check("C_Finalize", finalize_on_exit.release()->C_Finalize(nullptr));
  } catch (const std::exception& e) {
    fail(counts, e.what());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("threads=%u ecdsa_per_thread=%u rsa_per_thread=%u ok=%u failed=%u seconds=%.1f\n",
              threads, plan.m_ec_signs, plan.m_rsa_signs, counts.m_ok.load(),
              counts.m_failed.load(), secs);
  unsigned expected = threads * (plan.m_ec_signs + plan.m_rsa_signs);
  return counts.m_failed == 0 && counts.m_ok == expected ? 0 : 1;
}
