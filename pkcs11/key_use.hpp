// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include "core/model.hpp"
#include "pkcs11/module.hpp"

// What sign / verify / decrypt share: checking a key against a mechanism and the sizes of
// its results.
namespace ptool::p11 {

enum class KeyUse { k_sign, k_verify, k_decrypt };

// Validates `mech` for `obj` (mechanism known and usable for `use`, key type and class fit,
// usage attribute set, listed in CKA_ALLOWED_MECHANISMS) and starts `s.op`.
void start_operation(Module& m, Session& s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                     KeyUse use);

// Modulus bytes of an RSA key, 2 * field bytes of an EC key: the signature size.
size_t signature_size(const AttrMap& attrs);
size_t modulus_bits(const AttrMap& attrs);
size_t ec_field_bytes(const AttrMap& attrs);

// Runs `body` and ends the session's operation unless it answered CKR_BUFFER_TOO_SMALL or
// was a size query (PKCS#11: every other outcome terminates the operation).
template<typename F>
CK_RV
finishing(Session& s, F&& body)
{
  CK_RV rv = CKR_GENERAL_ERROR;
  bool keep = false;
  try {
    rv = body(keep);
  } catch (...) {
    s.op = Operation{};
    throw;
  }
  if (!keep && rv != CKR_BUFFER_TOO_SMALL) {
    s.op = Operation{};
  }
  return rv;
}

} // namespace ptool::p11
