// SPDX-License-Identifier: BSD-2-Clause
// The C ABI: the function list and one-line shims. Nothing escapes as an exception and
// nothing exits; every failure becomes a CK_RV here.
#include <mutex>
#include <new>

#include "core/error.hpp"
#include "pkcs11/api.hpp"

namespace ptool::p11 {

namespace {

CK_RV
rv_from(const Error& e)
{
  // An unreachable TPM is the one failure logged by default: without it ssh says only
  // "PKCS#11 login failed: error 48" after asking for the PIN.
  log(e.code() == ExitCode::k_tcti ? LogLevel::k_error : LogLevel::k_warn,
      std::string(e.what()) + (e.hint().empty() ? "" : " (" + e.hint() + ")"));
  return rv_of(e.reason());
}

template<typename F>
CK_RV
guard(F&& f) noexcept
{
  try {
    return f();
  } catch (const CkError& e) {
    return e.rv;
  } catch (const std::bad_alloc&) {
    return CKR_HOST_MEMORY;
  } catch (const Error& e) {
    try {
      return rv_from(e);
    } catch (...) {
      return CKR_GENERAL_ERROR;
    }
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

// Runs `f(module)` under the module mutex once C_Initialize has been called.
template<typename F>
CK_RV
with_module(F&& f) noexcept
{
  return guard([&]() -> CK_RV {
    Module& m = Module::instance();
    std::lock_guard lock(m.mutex());
    m.check_initialized();
    return f(m);
  });
}

// The functions this module does not offer: CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize
// (and in a forked child), like every other call, then CKR_FUNCTION_NOT_SUPPORTED.
CK_RV
not_supported() noexcept
{
  return with_module([](Module&) -> CK_RV { return CKR_FUNCTION_NOT_SUPPORTED; });
}

CK_RV
initialize(CK_VOID_PTR args)
{
  if (args) {
    const auto* a = static_cast<const CK_C_INITIALIZE_ARGS*>(args);
    if (a->pReserved) {
      return CKR_ARGUMENTS_BAD;
    }
    int given = !!a->CreateMutex + !!a->DestroyMutex + !!a->LockMutex + !!a->UnlockMutex;
    if (given != 0 && given != 4) {
      return CKR_ARGUMENTS_BAD;
    }
    // With or without the application's mutex callbacks we lock with std::mutex: the OS
    // primitives are always available to us.
  }
  Module& m = Module::instance();
  std::lock_guard lock(m.mutex());
  m.initialize();
  return CKR_OK;
}

CK_RV
finalize(CK_VOID_PTR reserved)
{
  if (reserved) {
    return CKR_ARGUMENTS_BAD;
  }
  Module& m = Module::instance();
  std::lock_guard lock(m.mutex());
  m.check_initialized();
  m.finalize();
  return CKR_OK;
}

// Runs at exit() and when the host unloads us (dlclose): see Module::release_at_exit.
[[gnu::destructor]] void
release_at_exit() noexcept
{
  Module::instance().release_at_exit();
}

} // namespace

} // namespace ptool::p11

using namespace ptool::p11;

extern "C" {

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_Initialize(CK_VOID_PTR a)
{
  return guard([&] { return initialize(a); });
}
CK_RV
C_Finalize(CK_VOID_PTR r)
{
  return guard([&] { return finalize(r); });
}
CK_RV
C_GetInfo(CK_INFO_PTR i)
{
  return with_module([&](Module&) { return get_info(i); });
}

CK_RV
C_GetSlotList(CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR c)
{
  return with_module([&](Module& m) { return get_slot_list(m, p, l, c); });
}
CK_RV
C_GetSlotInfo(CK_SLOT_ID s, CK_SLOT_INFO_PTR i)
{
  return with_module([&](Module& m) { return get_slot_info(m, s, i); });
}
CK_RV
C_GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO_PTR i)
{
  return with_module([&](Module& m) { return get_token_info(m, s, i); });
}
CK_RV
C_GetMechanismList(CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR c)
{
  return with_module([&](Module& m) { return get_mechanism_list(m, s, l, c); });
}
CK_RV
C_GetMechanismInfo(CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR i)
{
  return with_module([&](Module& m) { return get_mechanism_info(m, s, t, i); });
}
CK_RV
C_OpenSession(CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR, CK_NOTIFY, CK_SESSION_HANDLE_PTR h)
{
  return with_module([&](Module& m) { return open_session(m, s, f, h); });
}
CK_RV
C_CloseSession(CK_SESSION_HANDLE h)
{
  return with_module([&](Module& m) { return close_session(m, h); });
}
CK_RV
C_CloseAllSessions(CK_SLOT_ID s)
{
  return with_module([&](Module& m) { return close_all_sessions(m, s); });
}
CK_RV
C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR i)
{
  return with_module([&](Module& m) { return get_session_info(m, h, i); });
}
CK_RV
C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n)
{
  return with_module([&](Module& m) { return login(m, h, u, p, n); });
}
CK_RV
C_Logout(CK_SESSION_HANDLE h)
{
  return with_module([&](Module& m) { return logout(m, h); });
}
CK_RV
C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG_PTR s)
{
  return with_module([&](Module& m) { return get_object_size(m, h, o, s); });
}
CK_RV
C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG c)
{
  return with_module([&](Module& m) { return get_attribute_value(m, h, o, t, c); });
}
CK_RV
C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG c)
{
  return with_module([&](Module& m) { return find_objects_init(m, h, t, c); });
}
CK_RV
C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG x, CK_ULONG_PTR c)
{
  return with_module([&](Module& m) { return find_objects(m, h, o, x, c); });
}
CK_RV
C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
  return with_module([&](Module& m) { return find_objects_final(m, h); });
}
CK_RV
C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE k)
{
  return with_module([&](Module& m) { return decrypt_init(m, h, mech, k); });
}
CK_RV
C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return decrypt(m, h, i, il, o, ol); });
}
CK_RV
C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE k)
{
  return with_module([&](Module& m) { return sign_init(m, h, mech, k); });
}
CK_RV
C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
  return with_module([&](Module& m) { return sign(m, h, d, dl, s, sl); });
}
CK_RV
C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG l)
{
  return with_module([&](Module& m) { return sign_update(m, h, p, l); });
}
CK_RV
C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
  return with_module([&](Module& m) { return sign_final(m, h, s, sl); });
}
CK_RV
C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE k)
{
  return with_module([&](Module& m) { return verify_init(m, h, mech, k); });
}
CK_RV
C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl)
{
  return with_module([&](Module& m) { return verify(m, h, d, dl, s, sl); });
}
CK_RV
C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG l)
{
  return with_module([&](Module& m) { return verify_update(m, h, p, l); });
}
CK_RV
C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG sl)
{
  return with_module([&](Module& m) { return verify_final(m, h, s, sl); });
}
CK_RV
C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG l)
{
  return with_module([&](Module& m) { return generate_random(m, h, o, l); });
}

CK_RV
C_InitToken(CK_SLOT_ID s, CK_UTF8CHAR_PTR p, CK_ULONG n, CK_UTF8CHAR_PTR l)
{
  return with_module([&](Module& m) { return init_token(m, s, p, n, l); });
}
CK_RV
C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR p, CK_ULONG n)
{
  return with_module([&](Module& m) { return init_pin(m, h, p, n); });
}
CK_RV
C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR o, CK_ULONG ol, CK_UTF8CHAR_PTR n, CK_ULONG nl)
{
  return with_module([&](Module& m) { return set_pin(m, h, o, ol, n, nl); });
}
CK_RV
C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
  return with_module([&](Module& m) { return get_operation_state(m, h, s, sl); });
}
CK_RV
C_SetOperationState(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)
{
  return not_supported();
}
CK_RV
C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG c, CK_OBJECT_HANDLE_PTR o)
{
  return with_module([&](Module& m) { return create_object(m, h, t, c, o); });
}
CK_RV
C_CopyObject(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR)
{
  return not_supported();
}
CK_RV
C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
  return with_module([&](Module& m) { return destroy_object(m, h, o); });
}
CK_RV
C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG c)
{
  return with_module([&](Module& m) { return set_attribute_value(m, h, o, t, c); });
}
CK_RV
C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE k)
{
  return with_module([&](Module& m) { return encrypt_init(m, h, mech, k); });
}
CK_RV
C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return encrypt(m, h, i, il, o, ol); });
}
CK_RV
C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return encrypt_update(m, h, i, il, o, ol); });
}
CK_RV
C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return encrypt_final(m, h, o, ol); });
}
CK_RV
C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return decrypt_update(m, h, i, il, o, ol); });
}
CK_RV
C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return decrypt_final(m, h, o, ol); });
}
CK_RV
C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
  return with_module([&](Module& m) { return digest_init(m, h, mech); });
}
CK_RV
C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return digest(m, h, d, dl, o, ol); });
}
CK_RV
C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG l)
{
  return with_module([&](Module& m) { return digest_update(m, h, p, l); });
}
CK_RV
C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
  return with_module([&](Module& m) { return digest_key(m, h, k); });
}
CK_RV
C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
  return with_module([&](Module& m) { return digest_final(m, h, o, ol); });
}
CK_RV
C_SignRecoverInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE)
{
  return not_supported();
}
CK_RV
C_SignRecover(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_VerifyRecoverInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE)
{
  return not_supported();
}
CK_RV
C_VerifyRecover(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_DigestEncryptUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_DecryptDigestUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_SignEncryptUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_DecryptVerifyUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR t, CK_ULONG c,
              CK_OBJECT_HANDLE_PTR k)
{
  return with_module([&](Module& m) { return generate_key(m, h, mech, t, c, k); });
}
CK_RV
C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pt, CK_ULONG pc,
                  CK_ATTRIBUTE_PTR vt, CK_ULONG vc, CK_OBJECT_HANDLE_PTR pub,
                  CK_OBJECT_HANDLE_PTR priv)
{
  return with_module(
    [&](Module& m) { return generate_key_pair(m, h, mech, pt, pc, vt, vc, pub, priv); });
}
CK_RV
C_WrapKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, CK_BYTE_PTR,
          CK_ULONG_PTR)
{
  return not_supported();
}
CK_RV
C_UnwrapKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_BYTE_PTR, CK_ULONG,
            CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR)
{
  return not_supported();
}
CK_RV
C_DeriveKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG,
            CK_OBJECT_HANDLE_PTR)
{
  return not_supported();
}
CK_RV
C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG l)
{
  return with_module([&](Module& m) { return seed_random(m, h, p, l); });
}
CK_RV
C_GetFunctionStatus(CK_SESSION_HANDLE)
{
  return not_supported();
}
CK_RV
C_CancelFunction(CK_SESSION_HANDLE)
{
  return not_supported();
}
CK_RV
C_WaitForSlotEvent(CK_FLAGS, CK_SLOT_ID_PTR, CK_VOID_PTR)
{
  return not_supported();
}

static CK_FUNCTION_LIST g_functions = {
  {2, 40},
  C_Initialize,
  C_Finalize,
  C_GetInfo,
  C_GetFunctionList,
  C_GetSlotList,
  C_GetSlotInfo,
  C_GetTokenInfo,
  C_GetMechanismList,
  C_GetMechanismInfo,
  C_InitToken,
  C_InitPIN,
  C_SetPIN,
  C_OpenSession,
  C_CloseSession,
  C_CloseAllSessions,
  C_GetSessionInfo,
  C_GetOperationState,
  C_SetOperationState,
  C_Login,
  C_Logout,
  C_CreateObject,
  C_CopyObject,
  C_DestroyObject,
  C_GetObjectSize,
  C_GetAttributeValue,
  C_SetAttributeValue,
  C_FindObjectsInit,
  C_FindObjects,
  C_FindObjectsFinal,
  C_EncryptInit,
  C_Encrypt,
  C_EncryptUpdate,
  C_EncryptFinal,
  C_DecryptInit,
  C_Decrypt,
  C_DecryptUpdate,
  C_DecryptFinal,
  C_DigestInit,
  C_Digest,
  C_DigestUpdate,
  C_DigestKey,
  C_DigestFinal,
  C_SignInit,
  C_Sign,
  C_SignUpdate,
  C_SignFinal,
  C_SignRecoverInit,
  C_SignRecover,
  C_VerifyInit,
  C_Verify,
  C_VerifyUpdate,
  C_VerifyFinal,
  C_VerifyRecoverInit,
  C_VerifyRecover,
  C_DigestEncryptUpdate,
  C_DecryptDigestUpdate,
  C_SignEncryptUpdate,
  C_DecryptVerifyUpdate,
  C_GenerateKey,
  C_GenerateKeyPair,
  C_WrapKey,
  C_UnwrapKey,
  C_DeriveKey,
  C_SeedRandom,
  C_GenerateRandom,
  C_GetFunctionStatus,
  C_CancelFunction,
  C_WaitForSlotEvent,
};

// Works before C_Initialize, as the standard requires.
__attribute__((visibility("default"))) CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
  if (!list) {
    return CKR_ARGUMENTS_BAD;
  }
  *list = &g_functions;
  return CKR_OK;
}

} // extern "C"
