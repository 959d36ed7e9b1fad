// SPDX-License-Identifier: BSD-2-Clause
// Encryption and multi-part decryption.
// Placeholder: not implemented yet (CKR_FUNCTION_NOT_SUPPORTED).
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
encrypt_init(Module&, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
encrypt(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
encrypt_update(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
encrypt_final(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
decrypt_update(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
decrypt_final(Module&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
