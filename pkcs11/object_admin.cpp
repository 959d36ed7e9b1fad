// SPDX-License-Identifier: BSD-2-Clause
// Objects made, changed and destroyed through PKCS#11.
// Placeholder: not implemented yet (CKR_FUNCTION_NOT_SUPPORTED).
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
create_object(Module&, CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
destroy_object(Module&, CK_SESSION_HANDLE, CK_OBJECT_HANDLE)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
set_attribute_value(Module&, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
