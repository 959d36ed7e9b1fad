// SPDX-License-Identifier: BSD-2-Clause
// Finding objects and reading their attributes: the store rows as they are, never the TPM.
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "pkcs11/api.hpp"

namespace ptool::p11 {

namespace {

// tpm2-pkcs11's own attributes (blobs, wrapped auth): internal, never handed out or matched.
bool
is_vendor_internal(CK_ATTRIBUTE_TYPE type)
{
  return (type & 0xffffff00UL) == 0x8f000000UL;
}

// Key material that a private or secret key never reveals (it is not in the store anyway,
// but PKCS#11 wants "sensitive" rather than "no such attribute" for these).
bool
is_sensitive(const AttrMap& attrs, CK_ATTRIBUTE_TYPE type)
{
  if (is_vendor_internal(type)) {
    return true;
  }
  auto cls = keys::attr_int(attrs, ck::k_class);
  if (cls != ck::k_o_private_key && cls != ck::k_o_secret_key) {
    return false;
  }
  switch (type) {
  case CKA_VALUE:
  case CKA_PRIVATE_EXPONENT:
  case CKA_PRIME_1:
  case CKA_PRIME_2:
  case CKA_EXPONENT_1:
  case CKA_EXPONENT_2:
  case CKA_COEFFICIENT:
    return true;
  default:
    return false;
  }
}

// The attribute as the PKCS#11 caller sees it: CK_ULONG, CK_BBOOL, bytes, or a CK_ULONG
// array (CKA_ALLOWED_MECHANISMS; templates are stored empty).
std::optional<Bytes>
encode(const AttrValue* found)
{
  if (!found) {
    return std::nullopt;
  }
  const AttrValue& v = *found;
  auto ulongs = [](std::span<const uint64_t> values) {
    Bytes out(values.size() * sizeof(CK_ULONG));
    for (size_t i = 0; i < values.size(); ++i) {
      auto u = static_cast<CK_ULONG>(values[i]);
      std::memcpy(out.data() + i * sizeof(CK_ULONG), &u, sizeof(CK_ULONG));
    }
    return out;
  };
  switch (v.kind) {
  case AttrValue::Kind::k_int:
    return ulongs(std::span(&v.num, 1));
  case AttrValue::Kind::k_bool:
    return Bytes{static_cast<uint8_t>(v.flag ? CK_TRUE : CK_FALSE)};
  case AttrValue::Kind::k_seq:
    return ulongs(v.seq);
  case AttrValue::Kind::k_bytes:
    break;
  }
  return v.bytes;
}

std::optional<Bytes>
encode(const AttrMap& attrs, CK_ATTRIBUTE_TYPE type)
{
  auto it = attrs.find(type);
  return encode(it == attrs.end() ? nullptr : &it->second);
}

// Whether the row matches the template: indexed attributes are compared without parsing the
// row; any other one parses it (a row that then does not parse matches nothing).
bool
matches(const ObjectTable& table, const ObjectTable::Rows::value_type& row, CK_ATTRIBUTE_PTR tmpl,
        CK_ULONG count)
{
  for (CK_ULONG i = 0; i < count; ++i) {
    if (is_vendor_internal(tmpl[i].type)) {
      return false;
    }
    std::optional<AttrValue> attr = table.value(row, tmpl[i].type);
    auto value = encode(attr ? &*attr : nullptr);
    if (!ObjectTable::usable(row)) {
      return false;
    }
    if (!value || value->size() != tmpl[i].ulValueLen
        || (!value->empty()
            && (!tmpl[i].pValue || std::memcmp(value->data(), tmpl[i].pValue, value->size())))) {
      return false;
    }
  }
  return true;
}

// A private data object's CKA_VALUE, kept only wrapped (CKA_TPM2_ENC_BLOB) in the store:
// unwrapped with the token's key while the user is logged in, as upstream's module does;
// nullopt when that does not apply (the stored, empty, CKA_VALUE is answered then).
// CKR_GENERAL_ERROR in `rv` when the wrapped value does not open with this token's key.
std::optional<SecureBytes>
private_data_value(const Object& obj, const TokenState& ts, CK_RV& rv)
{
  if (keys::attr_int(obj.attrs, ck::k_class) != ck::k_o_data
      || !keys::attr_bool(obj.attrs, ck::k_private).value_or(false) || !ts.private_visible()
      || ts.wrapping_key.empty()) {
    return std::nullopt;
  }
  const Bytes* stored = keys::attr_bytes(obj.attrs, ck::k_value);
  const Bytes* wrapped = keys::attr_bytes(obj.attrs, ck::k_tpm2_enc_blob);
  if ((stored && !stored->empty()) || !wrapped || wrapped->empty()) {
    return std::nullopt;
  }
  try {
    return crypto::unwrap_auth(
      ts.wrapping_key,
      std::string_view(reinterpret_cast<const char*>(wrapped->data()), wrapped->size()));
  } catch (const Error&) {
    log(LogLevel::k_warn,
        "object " + std::to_string(obj.id) + ": CKA_VALUE does not unwrap with this token's key");
    rv = CKR_GENERAL_ERROR;
    return std::nullopt;
  }
}

// Copies `value` into the caller's attribute (size query, copy, or CKR_BUFFER_TOO_SMALL).
CK_RV
answer(CK_ATTRIBUTE& a, std::span<const uint8_t> value)
{
  if (!a.pValue) {
    a.ulValueLen = value.size();
  } else if (a.ulValueLen >= value.size()) {
    if (!value.empty()) {
      std::memcpy(a.pValue, value.data(), value.size());
    }
    a.ulValueLen = value.size();
  } else {
    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  return CKR_OK;
}

} // namespace

CK_RV
find_objects_init(Module& m, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
  if (!tmpl && count) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  if (s.finding) {
    return CKR_OPERATION_ACTIVE;
  }
  TokenState& ts = m.token(s.slot);
  // Read the store each time, so keys added by tpm2-ptool meanwhile are found.
  m.refresh_objects(ts);
  s.found.clear();
  s.found_pos = 0;
  // Private objects match too, as in upstream's module: C_FindObjects hands them out when
  // the user is logged in at that moment (a search begun before C_Login shows them after).
  for (const auto& row : ts.objects.rows()) {
    if (matches(ts.objects, row, tmpl, count)) {
      s.found.push_back(static_cast<CK_OBJECT_HANDLE>(row.first));
    }
  }
  s.finding = true;
  return CKR_OK;
}

CK_RV
find_objects(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
             CK_ULONG_PTR count)
{
  if (!out || !count) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  if (!s.finding) {
    return CKR_OPERATION_NOT_INITIALIZED;
  }
  TokenState& ts = m.token(s.slot);
  CK_ULONG n = 0;
  while (n < max && s.found_pos < s.found.size()) {
    CK_OBJECT_HANDLE handle = s.found[s.found_pos++];
    const ObjectTable::Rows::value_type* row = ts.objects.row(static_cast<int64_t>(handle));
    if (!row || !ObjectTable::usable(*row)) {
      continue; // gone from the store (or found unreadable) since C_FindObjectsInit
    }
    // CKA_PRIVATE objects only while the user is logged in now (upstream decides here too).
    std::optional<AttrValue> priv = ts.objects.value(*row, ck::k_private);
    bool is_private = !priv || priv->kind != AttrValue::Kind::k_bool || priv->flag;
    if (is_private && !ts.private_visible()) {
      continue;
    }
    out[n++] = handle;
  }
  *count = n;
  return CKR_OK;
}

CK_RV
find_objects_final(Module& m, CK_SESSION_HANDLE h)
{
  Session& s = m.session(h);
  if (!s.finding) {
    return CKR_OPERATION_NOT_INITIALIZED;
  }
  s.finding = false;
  s.found.clear();
  return CKR_OK;
}

CK_RV
get_attribute_value(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE handle, CK_ATTRIBUTE_PTR tmpl,
                    CK_ULONG count)
{
  if (!tmpl && count) {
    return CKR_ARGUMENTS_BAD;
  }
  Session& s = m.session(h);
  const Object& obj = m.object(s, handle);
  const TokenState& ts = m.token(s.slot);
  // Every attribute is answered even when an earlier one fails (PKCS#11 2.40 §5.7.5).
  CK_RV rv = CKR_OK;
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_ATTRIBUTE& a = tmpl[i];
    if (is_sensitive(obj.attrs, a.type)) {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_SENSITIVE;
      continue;
    }
    if (a.type == CKA_VALUE) {
      if (auto secret = private_data_value(obj, ts, rv)) {
        CK_RV r = answer(a, *secret);
        rv = r != CKR_OK ? r : rv;
        continue;
      }
    }
    auto value = encode(obj.attrs, a.type);
    if (!value) {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_TYPE_INVALID;
      continue;
    }
    CK_RV r = answer(a, *value);
    rv = r != CKR_OK ? r : rv;
  }
  return rv;
}

CK_RV
get_object_size(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE handle, CK_ULONG_PTR size)
{
  if (!size) {
    return CKR_ARGUMENTS_BAD;
  }
  m.object(m.session(h), handle);
  *size = CK_UNAVAILABLE_INFORMATION;
  return CKR_OK;
}

} // namespace ptool::p11
