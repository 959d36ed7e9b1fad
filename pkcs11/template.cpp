// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/template.hpp"

#include <cstring>

#include "pkcs11/module.hpp"

namespace ptool::p11 {

Template::Template(CK_ATTRIBUTE_PTR attrs, CK_ULONG count) : m_attrs(attrs), m_count(count)
{
  if (!attrs && count) {
    fail(CKR_ARGUMENTS_BAD);
  }
  for (CK_ULONG i = 0; i < count; ++i) {
    if (!attrs[i].pValue && attrs[i].ulValueLen) {
      fail(CKR_ARGUMENTS_BAD);
    }
  }
}

const CK_ATTRIBUTE*
Template::find(CK_ATTRIBUTE_TYPE type) const
{
  for (CK_ULONG i = 0; i < m_count; ++i) {
    if (m_attrs[i].type == type) {
      return &m_attrs[i];
    }
  }
  return nullptr;
}

bool
Template::flag_of(const CK_ATTRIBUTE& a)
{
  if (a.ulValueLen != sizeof(CK_BBOOL)) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  CK_BBOOL v = *static_cast<const CK_BBOOL*>(a.pValue);
  if (v != CK_TRUE && v != CK_FALSE) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  return v == CK_TRUE;
}

CK_ULONG
Template::ulong_of(const CK_ATTRIBUTE& a)
{
  if (a.ulValueLen != sizeof(CK_ULONG)) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  CK_ULONG v = 0;
  std::memcpy(&v, a.pValue, sizeof v);
  return v;
}

Bytes
Template::bytes_of(const CK_ATTRIBUTE& a)
{
  if (a.ulValueLen > k_max_value) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  const auto* p = static_cast<const uint8_t*>(a.pValue);
  return a.ulValueLen ? Bytes(p, p + a.ulValueLen) : Bytes{};
}

std::vector<uint64_t>
Template::ulongs_of(const CK_ATTRIBUTE& a)
{
  if (a.ulValueLen % sizeof(CK_ULONG) || a.ulValueLen > k_max_value) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  std::vector<uint64_t> out;
  for (CK_ULONG off = 0; off < a.ulValueLen; off += sizeof(CK_ULONG)) {
    CK_ULONG v = 0;
    std::memcpy(&v, static_cast<const uint8_t*>(a.pValue) + off, sizeof v);
    out.push_back(v);
  }
  return out;
}

std::optional<bool>
Template::flag(CK_ATTRIBUTE_TYPE type) const
{
  const CK_ATTRIBUTE* a = find(type);
  return a ? std::optional<bool>(flag_of(*a)) : std::nullopt;
}

std::optional<CK_ULONG>
Template::ulong(CK_ATTRIBUTE_TYPE type) const
{
  const CK_ATTRIBUTE* a = find(type);
  return a ? std::optional<CK_ULONG>(ulong_of(*a)) : std::nullopt;
}

std::optional<Bytes>
Template::bytes(CK_ATTRIBUTE_TYPE type) const
{
  const CK_ATTRIBUTE* a = find(type);
  return a ? std::optional<Bytes>(bytes_of(*a)) : std::nullopt;
}

std::optional<std::vector<uint64_t>>
Template::ulongs(CK_ATTRIBUTE_TYPE type) const
{
  const CK_ATTRIBUTE* a = find(type);
  return a ? std::optional<std::vector<uint64_t>>(ulongs_of(*a)) : std::nullopt;
}

void
require_rw_user(Module& m, Session& s)
{
  TokenState& ts = m.token(s.slot);
  if (ts.login != TokenState::Login::k_user) {
    fail(CKR_USER_NOT_LOGGED_IN);
  }
  if (!(s.flags & CKF_RW_SESSION)) {
    fail(CKR_SESSION_READ_ONLY);
  }
}

} // namespace ptool::p11
