// SPDX-License-Identifier: BSD-2-Clause
// Keys generated in the TPM under the token's primary (C_GenerateKeyPair: RSA and EC;
// C_GenerateKey: AES). The TPM template is tpm2-tools' default, as `tpm2-ptool addkey`
// uses, changed only where the caller's template asks (usage bits, extractability), and
// the objects are the very attribute sets addkey stores (keys::key_objects), with the
// caller's identity attributes (CKA_LABEL, CKA_ID, ...) on top. So a key made here is used
// by upstream's module and our CLI unchanged, and the other way round.
#include <algorithm>

#include "core/crypto/crypto.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/templates.hpp"
#include "core/token/key_store.hpp"
#include "pkcs11/api.hpp"
#include "pkcs11/template.hpp"

namespace ptool::p11 {

namespace {

using V = AttrValue;

// Upstream's checks on each template before anything else (its check_common_attrs): usage
// that a TPM key never has must not be asked for, and a key cannot be both sensitive and
// extractable. CKA_DERIVE=true is let through, as upstream does (pkcs11-tool asks for it on
// every EC key); the key is stored with CKA_DERIVE false, which is what it can do.
void
check_common(const Template& t)
{
  t.flag(CKA_DERIVE);
  for (CK_ATTRIBUTE_TYPE type : {CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, CKA_UNWRAP, CKA_WRAP,
                                 CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED}) {
    if (t.flag(type).value_or(false)) {
      fail(CKR_ATTRIBUTE_VALUE_INVALID);
    }
  }
  t.flag(CKA_ALWAYS_AUTHENTICATE);
  t.flag(CKA_PRIVATE);
  if (t.flag(CKA_SENSITIVE).value_or(false) && t.flag(CKA_EXTRACTABLE).value_or(false)) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID);
  }
}

// What the templates ask of the TPM object, applied in template order (public template
// first, then the private one: a later attribute wins, as upstream's handlers do).
struct Wanted
{
  TPMA_OBJECT attrs = 0;
  std::optional<CK_ULONG> modulus_bits;
  std::optional<Bytes> ec_params;
};

void
apply(const Template& t, CK_KEY_TYPE key_type, CK_OBJECT_CLASS_PTR allowed_classes,
      size_t n_classes, Wanted& w)
{
  auto set = [&w](TPMA_OBJECT bits, bool on) {
    w.attrs = on ? (w.attrs | bits) : (w.attrs & ~bits);
  };
  for (CK_ULONG i = 0; i < t.size(); ++i) {
    const CK_ATTRIBUTE& a = t[i];
    switch (a.type) {
    case CKA_TOKEN:
      // Session keys are not kept: the TPM blob lives in the store.
      if (!Template::flag_of(a)) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      break;
    case CKA_VERIFY: // verify and decrypt are one TPM attribute (as upstream maps them)
    case CKA_DECRYPT:
      set(TPMA_OBJECT_DECRYPT, Template::flag_of(a));
      break;
    case CKA_SIGN: // sign and encrypt are one TPM attribute
    case CKA_ENCRYPT:
      set(TPMA_OBJECT_SIGN_ENCRYPT, Template::flag_of(a));
      break;
    case CKA_SENSITIVE:
      set(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT, Template::flag_of(a));
      break;
    case CKA_EXTRACTABLE:
      set(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT, !Template::flag_of(a));
      break;
    case CKA_CLASS: {
      CK_ULONG cls = Template::ulong_of(a);
      if (std::find(allowed_classes, allowed_classes + n_classes, cls)
          == allowed_classes + n_classes) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      break;
    }
    case CKA_KEY_TYPE:
      if (Template::ulong_of(a) != key_type) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      break;
    case CKA_MODULUS_BITS:
      if (key_type != CKK_RSA) {
        break;
      }
      w.modulus_bits = Template::ulong_of(a);
      if (*w.modulus_bits != 1024 && *w.modulus_bits != 2048 && *w.modulus_bits != 3072
          && *w.modulus_bits != 4096) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      break;
    case CKA_PUBLIC_EXPONENT: {
      if (key_type != CKK_RSA) {
        break;
      }
      // The TPM's default exponent only (what every key of the store has): 65537, in any
      // big-endian length up to 4 bytes.
      Bytes e = Template::bytes_of(a);
      if (e.empty() || e.size() > 4) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      uint32_t v = 0;
      for (uint8_t b : e) {
        v = (v << 8) | b;
      }
      if (v != 65537) {
        fail(CKR_ATTRIBUTE_VALUE_INVALID);
      }
      break;
    }
    case CKA_EC_PARAMS:
      if (key_type == CKK_EC) {
        w.ec_params = Template::bytes_of(a);
      }
      break;
    case CKA_PRIVATE:
      Template::flag_of(a);
      break;
    default:
      break;
    }
  }
}

// The TPM curve of DER CKA_EC_PARAMS: a named-curve OID the store knows (P-224, P-256, P-384,
// P-521); another OID is CKR_CURVE_NOT_SUPPORTED, anything else CKR_ATTRIBUTE_VALUE_INVALID.
tpm::KeyAlgorithm
ec_algorithm(const Bytes& params)
{
  std::optional<keys::Curve> curve = keys::curve_by_params(params);
  if (!curve) {
    bool oid = params.size() >= 3 && params[0] == 0x06 && params[1] == params.size() - 2;
    fail(oid ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID);
  }
  unsigned bits = curve->field_bytes == 66 ? 521 : static_cast<unsigned>(curve->field_bytes * 8);
  return *tpm::parse_algorithm("ecc" + std::to_string(bits));
}

// Which object of a key a template is for: what its usage attributes will be follows from
// the TPM object attributes (keys::key_objects).
enum class Part { k_private, k_public, k_secret };

// The caller's usage attributes must agree with what the TPM key will have: two of them that
// map to one TPM attribute (CKA_VERIFY and CKA_DECRYPT, say) cannot ask for different
// values. Upstream finds this only after creating the key (CKR_GENERAL_ERROR); we before.
void
check_usage(const Template& t, TPMA_OBJECT attrs, Part part)
{
  const bool sign = attrs & TPMA_OBJECT_SIGN_ENCRYPT;
  const bool decrypt = attrs & TPMA_OBJECT_DECRYPT;
  std::pair<CK_ATTRIBUTE_TYPE, bool> has[2];
  switch (part) {
  case Part::k_private:
    has[0] = {CKA_SIGN, sign};
    has[1] = {CKA_DECRYPT, decrypt};
    break;
  case Part::k_public:
    has[0] = {CKA_ENCRYPT, sign};
    has[1] = {CKA_VERIFY, decrypt};
    break;
  case Part::k_secret:
    has[0] = {CKA_ENCRYPT, sign};
    has[1] = {CKA_DECRYPT, decrypt};
    if (t.flag(CKA_SIGN).value_or(false) || t.flag(CKA_VERIFY).value_or(false)) {
      fail(CKR_TEMPLATE_INCONSISTENT);
    }
    break;
  }
  for (const auto& [type, value] : has) {
    std::optional<bool> asked = t.flag(type);
    if (asked && *asked != value) {
      fail(CKR_TEMPLATE_INCONSISTENT);
    }
  }
}

// The caller's own attributes on a stored object: identity and dates as given, CKA_PRIVATE,
// for a private or secret key also CKA_SENSITIVE and CKA_ALWAYS_AUTHENTICATE, and a
// CKA_ALLOWED_MECHANISMS that narrows (never widens) the key's list.
void
overlay(const Template& t, AttrMap& obj, bool secret)
{
  for (CK_ATTRIBUTE_TYPE type : {CKA_LABEL, CKA_SUBJECT, CKA_START_DATE, CKA_END_DATE}) {
    if (auto v = t.bytes(type)) {
      obj[type] = V::data(std::move(*v));
    }
  }
  if (auto v = t.flag(CKA_PRIVATE)) {
    obj[CKA_PRIVATE] = V::boolean(*v);
  }
  if (secret) {
    if (auto v = t.flag(CKA_SENSITIVE)) {
      obj[CKA_SENSITIVE] = V::boolean(*v);
    }
    if (auto v = t.flag(CKA_ALWAYS_AUTHENTICATE)) {
      obj[CKA_ALWAYS_AUTHENTICATE] = V::boolean(*v);
    }
  }
  if (auto asked = t.ulongs(CKA_ALLOWED_MECHANISMS)) {
    auto it = obj.find(CKA_ALLOWED_MECHANISMS);
    if (it != obj.end() && it->second.kind == V::Kind::k_seq) {
      std::vector<uint64_t> narrowed;
      for (uint64_t mech : *asked) {
        const auto& have = it->second.seq;
        if (std::find(have.begin(), have.end(), mech) != have.end()
            && std::find(narrowed.begin(), narrowed.end(), mech) == narrowed.end()) {
          narrowed.push_back(mech);
        }
      }
      it->second = V::list(std::move(narrowed));
    }
  }
}

void
check_mechanism(CK_MECHANISM_PTR mech)
{
  if (mech->pParameter || mech->ulParameterLen) {
    fail(CKR_MECHANISM_PARAM_INVALID);
  }
}

// Creates `tmpl` in the TPM under the token's primary with a fresh random auth (wrapped with
// the token's key), builds the objects addkey would store, lets `adjust` apply the caller's
// template, and stores them in one transaction. Returns the new object handles in the
// order of key_objects (private or secret first).
template<typename Adjust>
std::vector<int64_t>
create_and_store(Module& m, TokenState& ts, const TPM2B_PUBLIC& tmpl, const Bytes& id,
                 CK_RV unsupported, Adjust&& adjust)
{
  store::Store st = store::Store::open(store::locate(std::nullopt), store::Store::Mode::k_existing);
  std::optional<SealObject> seal = st.seal_object(ts.token.id);
  if (!seal) {
    fail(CKR_GENERAL_ERROR);
  }
  SecureBytes objauth = crypto::random_hex(16);
  keys::KeyObjectInput in;
  in.wrapped_auth = crypto::wrap_auth(ts.wrapping_key, objauth);
  in.id = id;
  tpm::AlgorithmSet algs;
  try {
    tpm::CreatedObject created = m.with_tpm(ts, [&] {
      tpm::PrimaryContext& pc = m.tpm(ts);
      return pc.create(tmpl, objauth, {}, false);
    });
    in.pub = created.pub;
    in.priv = created.priv;
    std::optional<tpm::AlgorithmSet> known =
      token::known_algorithms(st, ts.token.pid, tmpl.publicArea.type);
    algs = known ? *known : m.with_tpm(ts, [&] {
      m.tpm(ts);
      return tpm::get_algorithms(ts.esys->get());
    });
  } catch (const Error& e) {
    if (e.code() == ExitCode::k_unsupported) {
      log(LogLevel::k_info, std::string("key generation refused by the TPM: ") + e.what());
      fail(unsupported);
    }
    throw;
  }
  std::vector<AttrMap> objects = keys::key_objects(in, algs);
  adjust(objects);
  std::vector<int64_t> ids = token::insert_key_objects(st, ts.token, *seal, objects);
  m.refresh_objects(ts);
  log(LogLevel::k_debug, "generated key object " + std::to_string(ids.front()));
  return ids;
}

// CKA_ID: the template's, else (like addkey) 16 random hex characters, so that the key's
// objects pair up by CKA_ID as every client expects.
Bytes
key_id(const Template& a, const Template& b)
{
  if (auto v = a.bytes(CKA_ID)) {
    return *v;
  }
  if (auto v = b.bytes(CKA_ID)) {
    return *v;
  }
  return to_bytes(crypto::random_hex(8).view());
}

} // namespace

CK_RV
generate_key(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
             CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
  Session& s = m.session(h);
  require_rw_user(m, s);
  if (!mech || !out) {
    return CKR_ARGUMENTS_BAD;
  }
  Template t(tmpl, count);
  if (mech->mechanism != CKM_AES_KEY_GEN) {
    return CKR_MECHANISM_INVALID;
  }
  check_mechanism(mech);
  check_common(t);
  if (t.find(CKA_VALUE)) {
    return CKR_TEMPLATE_INCONSISTENT; // the TPM makes the key; it is never given
  }
  if (auto cls = t.ulong(CKA_CLASS); cls && *cls != CKO_SECRET_KEY) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  if (auto type = t.ulong(CKA_KEY_TYPE); type && *type != CKK_AES) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  std::optional<CK_ULONG> len = t.ulong(CKA_VALUE_LEN);
  if (!len) {
    return CKR_TEMPLATE_INCOMPLETE;
  }
  if (*len != 16 && *len != 24 && *len != 32) {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  tpm::KeyAlgorithm alg{"aes" + std::to_string(*len * 8), tpm::KeyKind::k_aes,
                        static_cast<uint16_t>(*len * 8)};
  TPM2B_PUBLIC tpub = tpm::key_template(alg);
  Wanted w{tpub.publicArea.objectAttributes, {}, {}};
  CK_OBJECT_CLASS classes[] = {CKO_SECRET_KEY};
  apply(t, CKK_AES, classes, 1, w);
  tpub.publicArea.objectAttributes = w.attrs;
  check_usage(t, w.attrs, Part::k_secret);
  TokenState& ts = m.token(s.slot);
  std::vector<int64_t> ids =
    create_and_store(m, ts, tpub, key_id(t, t), CKR_ATTRIBUTE_VALUE_INVALID,
                     [&](std::vector<AttrMap>& objects) { overlay(t, objects.at(0), true); });
  *out = static_cast<CK_OBJECT_HANDLE>(ids.at(0));
  return CKR_OK;
}

CK_RV
generate_key_pair(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                  CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                  CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
  Session& s = m.session(h);
  require_rw_user(m, s);
  if (!mech || !pub || !priv) {
    return CKR_ARGUMENTS_BAD;
  }
  Template pt(pub_tmpl, pub_count);
  Template vt(priv_tmpl, priv_count);
  check_common(vt);
  check_common(pt);
  CK_KEY_TYPE key_type = 0;
  if (mech->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    key_type = CKK_RSA;
  } else if (mech->mechanism == CKM_EC_KEY_PAIR_GEN) {
    key_type = CKK_EC;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  check_mechanism(mech);
  // Upstream takes CKA_CLASS CKO_PUBLIC_KEY or CKO_PRIVATE_KEY in either template.
  CK_OBJECT_CLASS classes[] = {CKO_PUBLIC_KEY, CKO_PRIVATE_KEY};
  Wanted w;
  w.attrs = tpm::key_template(*tpm::parse_algorithm("rsa2048")).publicArea.objectAttributes;
  apply(pt, key_type, classes, 2, w);
  apply(vt, key_type, classes, 2, w);
  tpm::KeyAlgorithm alg;
  if (key_type == CKK_RSA) {
    alg = *tpm::parse_algorithm("rsa" + std::to_string(w.modulus_bits.value_or(2048)));
  } else {
    if (vt.find(CKA_EC_PARAMS)) {
      return CKR_TEMPLATE_INCONSISTENT; // the curve belongs in the public template
    }
    if (!w.ec_params) {
      return CKR_TEMPLATE_INCOMPLETE;
    }
    alg = ec_algorithm(*w.ec_params);
  }
  TPM2B_PUBLIC tpub = tpm::key_template(alg);
  tpub.publicArea.objectAttributes = w.attrs;
  check_usage(vt, w.attrs, Part::k_private);
  check_usage(pt, w.attrs, Part::k_public);
  TokenState& ts = m.token(s.slot);
  std::vector<int64_t> ids =
    create_and_store(m, ts, tpub, key_id(vt, pt),
                     key_type == CKK_EC ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID,
                     [&](std::vector<AttrMap>& objects) {
                       overlay(vt, objects.at(0), true);
                       overlay(pt, objects.at(1), false);
                     });
  *priv = static_cast<CK_OBJECT_HANDLE>(ids.at(0));
  *pub = static_cast<CK_OBJECT_HANDLE>(ids.at(1));
  return CKR_OK;
}

} // namespace ptool::p11
