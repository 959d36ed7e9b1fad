// SPDX-License-Identifier: BSD-2-Clause
// Objects made, changed and destroyed through PKCS#11: C_CreateObject for what upstream
// 1.9.0's module accepts (certificates, data objects, RSA public keys), C_DestroyObject,
// C_SetAttributeValue. Every store change is one transaction, then the token's objects are
// read again (m.refresh_objects).
#include <algorithm>

#include <openssl/crypto.h>

#include "core/crypto/crypto.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/template.hpp"

namespace ptool::p11 {

namespace {

using V = AttrValue;

bool
is_vendor_internal(CK_ATTRIBUTE_TYPE type)
{
  return (type & 0xffffff00UL) == 0x8f000000UL;
}

bool
is_bool_attr(CK_ATTRIBUTE_TYPE t)
{
  switch (t) {
  case CKA_TOKEN:
  case CKA_PRIVATE:
  case CKA_TRUSTED:
  case CKA_SENSITIVE:
  case CKA_ENCRYPT:
  case CKA_DECRYPT:
  case CKA_WRAP:
  case CKA_UNWRAP:
  case CKA_SIGN:
  case CKA_SIGN_RECOVER:
  case CKA_VERIFY:
  case CKA_VERIFY_RECOVER:
  case CKA_DERIVE:
  case CKA_EXTRACTABLE:
  case CKA_LOCAL:
  case CKA_NEVER_EXTRACTABLE:
  case CKA_ALWAYS_SENSITIVE:
  case CKA_MODIFIABLE:
  case CKA_COPYABLE:
  case CKA_DESTROYABLE:
  case CKA_ALWAYS_AUTHENTICATE:
  case CKA_WRAP_WITH_TRUSTED:
    return true;
  default:
    return false;
  }
}

bool
is_ulong_attr(CK_ATTRIBUTE_TYPE t)
{
  switch (t) {
  case CKA_CLASS:
  case CKA_CERTIFICATE_TYPE:
  case CKA_CERTIFICATE_CATEGORY:
  case CKA_JAVA_MIDP_SECURITY_DOMAIN:
  case CKA_NAME_HASH_ALGORITHM:
  case CKA_KEY_TYPE:
  case CKA_MODULUS_BITS:
  case CKA_VALUE_LEN:
  case CKA_KEY_GEN_MECHANISM:
    return true;
  default:
    return false;
  }
}

// The caller's template as the store keeps attributes: booleans, CK_ULONGs and lists by
// their PKCS#11 type; an attribute the store has no type for is kept as bytes (upstream
// guesses from the length, which turns an 8-byte CKA_ID-like value into a number). The
// tpm2-pkcs11 vendor attributes (blobs, wrapped auth) are never taken from a caller.
AttrMap
typed(const Template& t)
{
  AttrMap out;
  for (CK_ULONG i = 0; i < t.size(); ++i) {
    const CK_ATTRIBUTE& a = t[i];
    if (is_vendor_internal(a.type)) {
      fail(CKR_ATTRIBUTE_TYPE_INVALID);
    }
    if (out.count(a.type)) {
      continue; // the first one counts, as in every lookup
    }
    if (is_bool_attr(a.type)) {
      out[a.type] = V::boolean(Template::flag_of(a));
    } else if (is_ulong_attr(a.type)) {
      out[a.type] = V::integer(Template::ulong_of(a));
    } else if (a.type == CKA_ALLOWED_MECHANISMS) {
      out[a.type] = V::list(Template::ulongs_of(a));
    } else if (a.type == CKA_WRAP_TEMPLATE || a.type == CKA_UNWRAP_TEMPLATE) {
      if (a.ulValueLen) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID); // nothing is wrapped by this token
      }
      out[a.type] = V::list({});
    } else {
      out[a.type] = V::data(Template::bytes_of(a));
    }
  }
  return out;
}

// What every object upstream's module creates gets (its attr_common_add_storage).
void
add_storage_defaults(AttrMap& a, bool default_private)
{
  a[CKA_TOKEN] = V::boolean(true);
  a[CKA_MODIFIABLE] = V::boolean(true);
  a[CKA_COPYABLE] = V::boolean(true);
  a[CKA_DESTROYABLE] = V::boolean(true);
  a.emplace(CKA_PRIVATE, V::boolean(default_private));
  a.emplace(CKA_LABEL, V::data({}));
}

// An RSA public key (upstream's handle_rsa_public): modulus and exponent required; it can
// only verify and encrypt, in OpenSSL.
AttrMap
rsa_public(AttrMap a)
{
  const Bytes* modulus = keys::attr_bytes(a, CKA_MODULUS);
  const Bytes* exponent = keys::attr_bytes(a, CKA_PUBLIC_EXPONENT);
  if (!modulus || !exponent) {
    fail(CKR_TEMPLATE_INCOMPLETE);
  }
  if (modulus->empty() || exponent->empty() || exponent->size() > 8) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  if (auto kt = keys::attr_int(a, CKA_KEY_TYPE); kt && *kt != CKK_RSA) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  if (auto gen = keys::attr_int(a, CKA_KEY_GEN_MECHANISM);
      gen && *gen != CK_UNAVAILABLE_INFORMATION) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  a[CKA_CLASS] = V::integer(CKO_PUBLIC_KEY);
  a[CKA_KEY_TYPE] = V::integer(CKK_RSA);
  a.emplace(CKA_LOCAL, V::boolean(false));
  a.emplace(CKA_ENCRYPT, V::boolean(true));
  a.emplace(CKA_VERIFY, V::boolean(true));
  a.emplace(CKA_KEY_GEN_MECHANISM, V::integer(CK_UNAVAILABLE_INFORMATION));
  a.emplace(CKA_MODULUS_BITS, V::integer(modulus->size() * 8));
  a.emplace(
    CKA_ALLOWED_MECHANISMS,
    V::list({CKM_RSA_X_509, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS,
             CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS,
             CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS}));
  a.emplace(CKA_SUBJECT, V::data({}));
  a.emplace(CKA_TRUSTED, V::boolean(false));
  a.emplace(CKA_WRAP_TEMPLATE, V::list({}));
  a.emplace(CKA_PUBLIC_KEY_INFO, V::data({}));
  a.emplace(CKA_WRAP, V::boolean(false));
  a.emplace(CKA_VERIFY_RECOVER, V::boolean(false));
  a.emplace(CKA_ID, V::data({}));
  a.emplace(CKA_START_DATE, V::data({}));
  a.emplace(CKA_END_DATE, V::data({}));
  a.emplace(CKA_DERIVE, V::boolean(false));
  add_storage_defaults(a, false);
  return a;
}

// A data object (upstream's handle_data_object): always private, its CKA_VALUE kept only
// wrapped with the token's key (CKA_TPM2_ENC_BLOB, as upstream stores it).
AttrMap
data_object(AttrMap a, const TokenState& ts)
{
  if (!keys::attr_bool(a, CKA_PRIVATE).value_or(true)) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  const Bytes* value = keys::attr_bytes(a, CKA_VALUE);
  if (!value) {
    fail(CKR_TEMPLATE_INCOMPLETE);
  }
  if (value->empty()) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  std::string wrapped = crypto::wrap_auth(ts.wrapping_key, *value);
  a[ck::k_tpm2_enc_blob] = V::data(Bytes(wrapped.begin(), wrapped.end()));
  OPENSSL_cleanse(a[CKA_VALUE].bytes.data(), a[CKA_VALUE].bytes.size()); // the plain value
  a[CKA_VALUE] = V::data({});
  a.emplace(CKA_APPLICATION, V::data({}));
  add_storage_defaults(a, true);
  return a;
}

// A certificate (upstream's handle_cert_object): public, stored as given.
AttrMap
cert_object(AttrMap a)
{
  if (keys::attr_bool(a, CKA_PRIVATE).value_or(false)) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
  add_storage_defaults(a, false);
  return a;
}

store::Store
open_store_rw()
{
  return store::Store::open(store::locate(std::nullopt), store::Store::Mode::k_existing);
}

// Inside a transaction: the row behind `id`, which must still belong to the token.
Object
row_of(const store::Store& st, const TokenState& ts, int64_t id)
{
  std::optional<Object> row = st.object(id);
  if (!row || row->tokid != ts.token.id) {
    fail(CKR_OBJECT_HANDLE_INVALID);
  }
  return std::move(*row);
}

} // namespace

CK_RV
create_object(Module& m, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
              CK_OBJECT_HANDLE_PTR out)
{
  Session& s = m.session(h);
  if (!tmpl || !out) {
    return CKR_ARGUMENTS_BAD;
  }
  require_rw_user(m, s);
  Template t(tmpl, count);
  if (t.find(CKA_LOCAL) && Template::flag_of(*t.find(CKA_LOCAL))) {
    return CKR_ATTRIBUTE_VALUE_INVALID; // nothing made outside the TPM is local
  }
  const CK_ATTRIBUTE* cls_attr = t.find(CKA_CLASS);
  if (!cls_attr || cls_attr->ulValueLen != sizeof(CK_ULONG)) {
    return CKR_TEMPLATE_INCOMPLETE;
  }
  CK_ULONG cls = Template::ulong_of(*cls_attr);
  std::optional<CK_ULONG> key_type = t.ulong(CKA_KEY_TYPE);
  // Session objects would have to live in this process only; the store keeps token objects.
  if (!t.flag(CKA_TOKEN).value_or(true)) {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  AttrMap attrs = typed(t);
  TokenState& ts = m.token(s.slot);
  if (cls == CKO_PUBLIC_KEY || key_type == CKK_RSA) {
    if (cls != CKO_PUBLIC_KEY) {
      return CKR_ATTRIBUTE_VALUE_INVALID; // private keys are made in the TPM
    }
    attrs = rsa_public(std::move(attrs));
  } else if (cls == CKO_DATA) {
    attrs = data_object(std::move(attrs), ts);
  } else if (cls == CKO_CERTIFICATE) {
    attrs = cert_object(std::move(attrs));
  } else {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  store::Store st = open_store_rw();
  store::Transaction tx(st);
  if (!st.seal_object(ts.token.id)) {
    return CKR_DEVICE_REMOVED; // the token is gone from the store
  }
  int64_t id = st.insert_object(ts.token.id, attrs);
  tx.commit();
  m.refresh_objects(ts);
  *out = static_cast<CK_OBJECT_HANDLE>(id);
  return CKR_OK;
}

CK_RV
destroy_object(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
  Session& s = m.session(h);
  require_rw_user(m, s);
  TokenState& ts = m.token(s.slot);
  const Object& o = m.object(s, obj);
  const int64_t id = o.id;
  if (!keys::attr_bool(o.attrs, CKA_DESTROYABLE).value_or(true)) {
    return CKR_ACTION_PROHIBITED;
  }
  // Like upstream: an object in use by an operation is not destroyed under it.
  if (s.op.kind != Operation::Kind::k_none && s.op.key == id) {
    return CKR_FUNCTION_FAILED;
  }
  {
    store::Store st = open_store_rw();
    store::Transaction tx(st);
    row_of(st, ts, id);
    if (!st.delete_object(id)) {
      return CKR_OBJECT_HANDLE_INVALID;
    }
    tx.commit();
  }
  // The key's TPM blob went with the row; drop the loaded copy too.
  ts.loaded.erase(id);
  ts.last_use.erase(id);
  m.refresh_objects(ts);
  return CKR_OK;
}

CK_RV
set_attribute_value(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                    CK_ULONG count)
{
  Session& s = m.session(h);
  require_rw_user(m, s);
  if (!tmpl && count) {
    return CKR_ARGUMENTS_BAD;
  }
  Template t(tmpl, count);
  TokenState& ts = m.token(s.slot);
  const int64_t id = m.object(s, obj).id;

  store::Store st = open_store_rw();
  store::Transaction tx(st);
  Object row = row_of(st, ts, id);
  const std::optional<uint64_t> cls = keys::attr_int(row.attrs, CKA_CLASS);
  for (CK_ULONG i = 0; i < t.size(); ++i) {
    const CK_ATTRIBUTE& a = t[i];
    switch (a.type) {
    // What names or describes an object; what the TPM key is and may do is fixed
    // (changing CKA_SIGN in the store would not change the TPM key).
    case CKA_LABEL:
    case CKA_ID:
    case CKA_SUBJECT:
    case CKA_START_DATE:
    case CKA_END_DATE:
      row.attrs[a.type] = V::data(Template::bytes_of(a));
      break;
    case CKA_APPLICATION:
    case CKA_OBJECT_ID:
      if (cls != CKO_DATA) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
      }
      row.attrs[a.type] = V::data(Template::bytes_of(a));
      break;
    case CKA_VALUE: {
      if (cls != CKO_DATA) {
        return CKR_ATTRIBUTE_READ_ONLY;
      }
      Bytes value = Template::bytes_of(a);
      std::string wrapped =
        value.empty() ? std::string() : crypto::wrap_auth(ts.wrapping_key, value);
      OPENSSL_cleanse(value.data(), value.size());
      row.attrs[ck::k_tpm2_enc_blob] = V::data(Bytes(wrapped.begin(), wrapped.end()));
      row.attrs[CKA_VALUE] = V::data({});
      break;
    }
    default:
      if (is_vendor_internal(a.type)) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
      }
      return CKR_ATTRIBUTE_READ_ONLY;
    }
  }
  st.update_object_attrs(id, row.attrs);
  tx.commit();
  m.refresh_objects(ts);
  return CKR_OK;
}

} // namespace ptool::p11
