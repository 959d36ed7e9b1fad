// SPDX-License-Identifier: BSD-2-Clause
// Keys generated in the TPM under the token's primary.
// Placeholder: not implemented yet (CKR_FUNCTION_NOT_SUPPORTED).
#include "pkcs11/api.hpp"

namespace ptool::p11 {

CK_RV
generate_key(Module&, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
             CK_OBJECT_HANDLE_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
generate_key_pair(Module&, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
                  CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR)
{
  return CKR_FUNCTION_NOT_SUPPORTED;
}

} // namespace ptool::p11
