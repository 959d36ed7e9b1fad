// SPDX-License-Identifier: BSD-2-Clause
// Message digests, random seeding, operation state.
// Placeholder: not implemented yet (CKR_FUNCTION_NOT_SUPPORTED).
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
digest_init(Module&, CK_SESSION_HANDLE, CK_MECHANISM_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
digest(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
digest_update(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
digest_key(Module&, CK_SESSION_HANDLE, CK_OBJECT_HANDLE)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
digest_final(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
seed_random(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
get_operation_state(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
