// SPDX-License-Identifier: BSD-2-Clause
// Token and PIN management: the spare slot, C_InitToken, C_InitPIN, C_SetPIN.
// Placeholder: not implemented yet (CKR_FUNCTION_NOT_SUPPORTED).
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
init_token(Module&, CK_SLOT_ID, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
init_pin(Module&, CK_SESSION_HANDLE, CK_UTF8CHAR_PTR, CK_ULONG)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
set_pin(Module&, CK_SESSION_HANDLE, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR, CK_ULONG)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
