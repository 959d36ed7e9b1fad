// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/openssl_key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::keys {

namespace {

[[noreturn]] void
bad_key(const std::string& what)
{
  throw Error(ExitCode::k_general, "cannot build a public key: " + what);
}

const Bytes*
bytes_attr(const AttrMap& attrs, uint64_t type)
{
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.kind != AttrValue::Kind::k_bytes) {
    return nullptr;
  }
  return &it->second.bytes;
}

} // namespace

EvpPkey
rsa_public_key(const Bytes& modulus, const Bytes& exponent)
{
  Bignum n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  Bignum e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get())
      || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    bad_key("RSA parameters");
  }
  OsslParams params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1
      || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    bad_key("RSA modulus/exponent rejected by OpenSSL");
  }
  return EvpPkey(key);
}

EvpPkey
ec_public_key(const std::string& group_name, const Bytes& point)
{
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld
      || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group_name.c_str(),
                                          0)
      || !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                           point.size())) {
    bad_key("EC parameters");
  }
  OsslParams params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1
      || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    bad_key("EC point rejected by OpenSSL");
  }
  return EvpPkey(key);
}

static const std::vector<std::pair<unsigned, Curve>>&
curves()
{
  static const std::vector<std::pair<unsigned, Curve>> k_curves = {
    {224, {"P-224", nullptr, 28, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21}}},
    {256, {"P-256", "nistp256", 32, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}},
    {384, {"P-384", "nistp384", 48, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}}},
    {521, {"P-521", "nistp521", 66, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}}},
  };
  return k_curves;
}

std::optional<Curve>
curve_by_params(const Bytes& ec_params)
{
  for (const auto& [bits, curve] : curves()) {
    if (curve.der_oid == ec_params) {
      return curve;
    }
  }
  return std::nullopt;
}

std::optional<Curve>
curve_by_bits(unsigned bits)
{
  for (const auto& [b, curve] : curves()) {
    if (b == bits) {
      return curve;
    }
  }
  return std::nullopt;
}

// Length of an uncompressed point 04||X||Y on one of the store's curves. Checking it keeps
// a malformed DER wrapper from being mistaken for a bare point (and vice versa).
static bool
is_point_size(size_t n)
{
  for (const auto& [bits, curve] : curves()) {
    if (n == 1 + 2 * curve.field_bytes) {
      return true;
    }
  }
  return false;
}

std::optional<Bytes>
ec_point_from_attr(const Bytes& a)
{
  if (a.size() >= 2 && a[0] == 0x04) {
    size_t len = 0;
    size_t start = 0;
    if (a[1] < 0x80) {
      len = a[1];
      start = 2;
    } else if (a[1] == 0x81 && a.size() >= 3) {
      len = a[2];
      start = 3;
    } else if (a[1] == 0x85 && a.size() == 2 + 0x85) {
      len = 0x85; // upstream's invalid short-form P-521 length byte
      start = 2;
    }
    if (start && a.size() == start + len && is_point_size(len) && a[start] == 0x04) {
      return Bytes(a.begin() + static_cast<long>(start), a.end());
    }
    if (is_point_size(a.size())) {
      return a; // a bare uncompressed point
    }
  }
  return std::nullopt;
}

std::optional<Bytes>
ec_point_for_curve(const Bytes& attr, const Curve& curve)
{
  const size_t n = curve.field_bytes;
  auto raw = ec_point_from_attr(attr);
  if (raw && raw->size() == 1 + 2 * n) {
    return raw;
  }
  // Upstream's "04 len 04 X Y" with X or Y short by their leading zero bytes.
  if (attr.size() < 4 || attr[0] != 0x04 || attr[1] != attr.size() - 2 || attr[2] != 0x04) {
    return std::nullopt;
  }
  const size_t have = attr.size() - 3;
  if (have >= 2 * n || 2 * n - have > 4) {
    return std::nullopt;
  }
  const size_t missing = 2 * n - have;
  auto coords = attr.begin() + 3;
  for (size_t from_x = 0; from_x <= missing; ++from_x) {
    auto x_len = static_cast<std::ptrdiff_t>(n - from_x);
    Bytes p{0x04};
    p.insert(p.end(), from_x, 0);
    p.insert(p.end(), coords, coords + x_len);
    p.insert(p.end(), missing - from_x, 0);
    p.insert(p.end(), coords + x_len, attr.end());
    try {
      ec_public_key(curve.openssl_name, p); // only a point on the curve is accepted
      return p;
    } catch (const Error&) {
      ERR_clear_error();
    }
  }
  return std::nullopt;
}

bool
repair_ec_point(AttrMap& attrs)
{
  const Bytes* point = bytes_attr(attrs, ck::k_ec_point);
  const Bytes* params = bytes_attr(attrs, ck::k_ec_params);
  if (!point || !params || ec_point_from_attr(*point)) {
    return false;
  }
  auto curve = curve_by_params(*params);
  auto raw = curve ? ec_point_for_curve(*point, *curve) : std::nullopt;
  if (!raw || raw->size() >= 0x80) {
    return false;
  }
  Bytes der{0x04, static_cast<uint8_t>(raw->size())};
  der.insert(der.end(), raw->begin(), raw->end());
  attrs[ck::k_ec_point] = AttrValue::data(std::move(der));
  return true;
}

std::optional<EvpPkey>
public_key_from_attrs(const AttrMap& attrs)
{
  auto type = attrs.find(ck::k_key_type);
  if (type == attrs.end() || type->second.kind != AttrValue::Kind::k_int) {
    return std::nullopt;
  }
  if (type->second.num == ck::k_k_rsa) {
    const Bytes* n = bytes_attr(attrs, ck::k_modulus);
    const Bytes* e = bytes_attr(attrs, ck::k_public_exponent);
    if (!n || !e || n->empty()) {
      return std::nullopt;
    }
    return rsa_public_key(*n, e->empty() ? Bytes{1, 0, 1} : *e);
  }
  if (type->second.num == ck::k_k_ec) {
    const Bytes* params = bytes_attr(attrs, ck::k_ec_params);
    const Bytes* point = bytes_attr(attrs, ck::k_ec_point);
    if (!params || !point) {
      return std::nullopt;
    }
    auto curve = curve_by_params(*params);
    auto raw = curve ? ec_point_for_curve(*point, *curve) : std::nullopt;
    if (!raw) {
      return std::nullopt;
    }
    return ec_public_key(curve->openssl_name, *raw);
  }
  return std::nullopt;
}

std::string
public_key_pem(EVP_PKEY* key)
{
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    bad_key("PEM encoding failed");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

} // namespace ptool::keys
