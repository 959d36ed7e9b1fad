// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/public.hpp"

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "core/error.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/tpm/esys.hpp"
#include "core/wire.hpp"

namespace ptool::attest {

namespace {

using wire::put_mpint;
using wire::put_string;
using wire::put_u32;

} // namespace

CurveInfo
curve_info(TPM2_ECC_CURVE curve)
{
  switch (curve) {
  case TPM2_ECC_NIST_P256:
    return {"P-256", "nistp256", 32};
  case TPM2_ECC_NIST_P384:
    return {"P-384", "nistp384", 48};
  case TPM2_ECC_NIST_P521:
    return {"P-521", "nistp521", 66};
  default:
    throw Error(ExitCode::k_unsupported, "unsupported ECC curve in a TPM public area");
  }
}

Bytes
ec_point(const TPMT_PUBLIC& pub, size_t bytes)
{
  const auto& x = pub.unique.ecc.x;
  const auto& y = pub.unique.ecc.y;
  if (x.size > bytes || y.size > bytes) {
    throw Error(ExitCode::k_usage, "ECC point in a TPM public area is too long for its curve");
  }
  Bytes point(1 + 2 * bytes, 0);
  point[0] = 0x04;
  std::copy(x.buffer, x.buffer + x.size, point.begin() + 1 + static_cast<long>(bytes - x.size));
  std::copy(y.buffer, y.buffer + y.size, point.end() - static_cast<long>(y.size));
  return point;
}

Bytes
rsa_exponent(const TPMT_PUBLIC& pub)
{
  uint32_t e = pub.parameters.rsaDetail.exponent ? pub.parameters.rsaDetail.exponent : 65537;
  Bytes out;
  put_u32(out, e);
  return out;
}

Bytes
marshal_tpmt_public(const TPMT_PUBLIC& pub)
{
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  tpm::check_rc(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, out.data(), out.size(), &offset),
                "Tss2_MU_TPMT_PUBLIC_Marshal");
  out.resize(offset);
  return out;
}

TPMT_PUBLIC
unmarshal_tpmt_public(std::span<const uint8_t> data, const std::string& what)
{
  TPMT_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPMT_PUBLIC_Unmarshal(data.data(), data.size(), &offset, &pub) != TSS2_RC_SUCCESS
      || offset != data.size()) {
    throw Error(ExitCode::k_usage, what + " is not a TPM public area (TPMT_PUBLIC)");
  }
  return pub;
}

const EVP_MD*
tpm_md(TPM2_ALG_ID alg)
{
  switch (alg) {
  case TPM2_ALG_SHA1:
    return EVP_sha1();
  case TPM2_ALG_SHA256:
    return EVP_sha256();
  case TPM2_ALG_SHA384:
    return EVP_sha384();
  case TPM2_ALG_SHA512:
    return EVP_sha512();
  default:
    throw Error(ExitCode::k_unsupported,
                "unsupported TPM hash algorithm 0x"
                  + to_hex(Bytes{static_cast<uint8_t>(alg >> 8), static_cast<uint8_t>(alg)}));
  }
}

Bytes
tpm_hash(TPM2_ALG_ID alg, std::span<const uint8_t> data)
{
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, tpm_md(alg), nullptr) != 1) {
    throw Error(ExitCode::k_general, "OpenSSL digest failed");
  }
  out.resize(n);
  return out;
}

Bytes
tpm_name(const TPMT_PUBLIC& pub)
{
  Bytes digest = tpm_hash(pub.nameAlg, marshal_tpmt_public(pub));
  Bytes name(2 + digest.size());
  name[0] = static_cast<uint8_t>(pub.nameAlg >> 8);
  name[1] = static_cast<uint8_t>(pub.nameAlg);
  std::copy(digest.begin(), digest.end(), name.begin() + 2);
  return name;
}

EvpPkey
public_key(const TPMT_PUBLIC& pub)
{
  if (pub.type == TPM2_ALG_RSA) {
    const auto& n = pub.unique.rsa;
    return keys::rsa_public_key(Bytes(n.buffer, n.buffer + n.size), rsa_exponent(pub));
  }
  if (pub.type == TPM2_ALG_ECC) {
    CurveInfo c = curve_info(pub.parameters.eccDetail.curveID);
    return keys::ec_public_key(c.openssl, ec_point(pub, c.bytes));
  }
  throw Error(ExitCode::k_unsupported, "the TPM public area is not an RSA or ECC key");
}

Bytes
openssh_blob(const TPMT_PUBLIC& pub)
{
  Bytes blob;
  if (pub.type == TPM2_ALG_RSA) {
    put_string(blob, "ssh-rsa");
    put_mpint(blob, rsa_exponent(pub));
    put_mpint(blob, std::span(pub.unique.rsa.buffer, pub.unique.rsa.size));
    return blob;
  }
  if (pub.type == TPM2_ALG_ECC) {
    CurveInfo c = curve_info(pub.parameters.eccDetail.curveID);
    put_string(blob, std::string("ecdsa-sha2-") + c.ssh);
    put_string(blob, c.ssh);
    put_string(blob, ec_point(pub, c.bytes));
    return blob;
  }
  throw Error(ExitCode::k_unsupported, "the key is not an RSA or ECC key OpenSSH can use");
}

} // namespace ptool::attest
