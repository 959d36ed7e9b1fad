// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>

#include "core/model.hpp"
#include "pkcs11/module.hpp"

// Reading a caller's CK_ATTRIBUTE template (C_GenerateKeyPair, C_GenerateKey, C_CreateObject,
// C_SetAttributeValue). The template is the caller's memory: every length is checked before
// a read, and no value larger than k_max_value is taken.
namespace ptool::p11 {

inline constexpr CK_ULONG k_max_value = 64 * 1024;

class Template
{
public:
  // CKR_ARGUMENTS_BAD for a NULL array with a count, or an attribute with a length and no
  // value pointer.
  Template(CK_ATTRIBUTE_PTR attrs, CK_ULONG count);

  CK_ULONG size() const { return m_count; }
  const CK_ATTRIBUTE& operator[](CK_ULONG i) const { return m_attrs[i]; }
  // The first attribute of `type`, or nullptr.
  const CK_ATTRIBUTE* find(CK_ATTRIBUTE_TYPE type) const;

  // Typed reads of the first attribute of `type` (nullopt when absent). A value of the wrong
  // size (or a CK_BBOOL other than 0/1) is CKR_ATTRIBUTE_VALUE_INVALID.
  std::optional<bool> flag(CK_ATTRIBUTE_TYPE type) const;
  std::optional<CK_ULONG> ulong(CK_ATTRIBUTE_TYPE type) const;
  std::optional<Bytes> bytes(CK_ATTRIBUTE_TYPE type) const;
  std::optional<std::vector<uint64_t>> ulongs(CK_ATTRIBUTE_TYPE type) const;

  static bool flag_of(const CK_ATTRIBUTE& a);
  static CK_ULONG ulong_of(const CK_ATTRIBUTE& a);
  static Bytes bytes_of(const CK_ATTRIBUTE& a);
  static std::vector<uint64_t> ulongs_of(const CK_ATTRIBUTE& a);

private:
  CK_ATTRIBUTE_PTR m_attrs;
  CK_ULONG m_count;
};

// Login and session rules upstream applies to calls that change token objects
// (C_GenerateKeyPair, C_DestroyObject, C_SetAttributeValue): the user logged in
// (CKR_USER_NOT_LOGGED_IN) and a read/write session (CKR_SESSION_READ_ONLY).
void require_rw_user(Module& m, Session& s);

} // namespace ptool::p11
