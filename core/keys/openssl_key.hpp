// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>

#include "core/c_handles.hpp"
#include "core/hex.hpp"
#include "core/model.hpp"

namespace ptool::keys {

// Public keys as OpenSSL objects, from raw components. Throw Error on malformed input.
EvpPkey rsa_public_key(const Bytes& modulus, const Bytes& exponent);
EvpPkey ec_public_key(const std::string& group_name, const Bytes& point);

// Curve facts for the EC_PARAMS OIDs the store uses.
struct Curve
{
  const char* openssl_name; // "P-256"
  const char* ssh_name;     // "nistp256", or nullptr when OpenSSH has no such key type
  size_t field_bytes;
  Bytes der_oid; // CKA_EC_PARAMS
};
std::optional<Curve> curve_by_params(const Bytes& ec_params);
std::optional<Curve> curve_by_bits(unsigned bits);

// The uncompressed point (04 || X || Y) inside CKA_EC_POINT. Accepts DER OCTET STRING
// wrapping (short and long form), upstream's invalid short-form P-521 length, and a bare point.
std::optional<Bytes> ec_point_from_attr(const Bytes& attr);

// The uncompressed point of a key on `curve`, each coordinate the curve's full size. Also
// repairs what upstream 1.9.0 writes for a coordinate that starts with zero bytes (it drops
// them: 1 P-256 key in 128) by finding the split of X and Y that lies on the curve.
std::optional<Bytes> ec_point_for_curve(const Bytes& attr, const Curve& curve);

// Rewrites an unpadded upstream CKA_EC_POINT (see above) in `attrs` as the well-formed DER
// OCTET STRING, so PKCS#11 clients can read the key. Returns whether anything changed.
bool repair_ec_point(AttrMap& attrs);

// The public key of an RSA or EC object from its store attributes; nullopt for other objects.
std::optional<EvpPkey> public_key_from_attrs(const AttrMap& attrs);

// SubjectPublicKeyInfo PEM of `key`.
std::string public_key_pem(EVP_PKEY* key);

} // namespace ptool::keys
