// SPDX-License-Identifier: BSD-2-Clause
// `link`'s readers: the TSS2 PRIVATE KEY PEM (the input as PEM text, or, when it holds no
// PEM header, as the DER body of one), the tpm2-tools .pub/.priv blobs (the input as each),
// and what link builds from them: the PKCS#11 attribute maps and the OpenSSH line.
#include <string>

#include <tss2/tss2_tpm2_types.h>

#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/keys/tss2_pem.hpp"
#include "core/tpm/esys.hpp"
#include "store/attr_yaml.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace ptool;

namespace {

// The DER as a PEM block, so the DER reader gets fuzzed without the base64 layer in between.
std::string
as_pem(std::span<const uint8_t> der)
{
  std::string b64 = keys::base64(der);
  std::string out = "-----BEGIN TSS2 PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out += b64.substr(i, 64) + "\n";
  }
  return out + "-----END TSS2 PRIVATE KEY-----\n";
}

// What link does with a key the TPM loaded: attribute maps and, for RSA/EC, the ssh line.
void
build_objects(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv)
{
  keys::KeyObjectInput in;
  in.pub = pub;
  in.priv = priv;
  in.id = {0x66, 0x75, 0x7a, 0x7a};
  in.label = "fuzz";
  in.wrapped_auth = "00:00:00";
  tpm::AlgorithmSet algs{{TPM2_ALG_RSA, TPM2_ALG_ECC, TPM2_ALG_RSAPSS, TPM2_ALG_SHA1,
                          TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512, TPM2_ALG_CBC,
                          TPM2_ALG_CFB, TPM2_ALG_ECB}};
  std::vector<AttrMap> objects;
  fuzz::expect_only_error([&] { objects = keys::key_objects(in, algs); });
  for (const AttrMap& attrs : objects) {
    // CKA_EC_POINT is a DER OCTET STRING whose length must cover exactly the rest.
    if (const Bytes* point = keys::attr_bytes(attrs, ck::k_ec_point)) {
      const Bytes& p = *point;
      bool ok = p.size() >= 2 && p[0] == 0x04;
      if (ok && p[1] < 0x80) {
        ok = p.size() == 2U + p[1];
      } else if (ok) {
        ok = p[1] == 0x81 && p.size() >= 3 && p.size() == 3U + p[2];
      }
      fuzz::fuzz_require(ok, "CKA_EC_POINT is not a well-formed DER OCTET STRING");
    }
    // The store must be able to keep what link builds.
    std::string yaml = store::emit_attrs(attrs);
    fuzz::fuzz_require(store::parse_attrs(yaml) == attrs, "link's attributes do not round-trip");
    fuzz::expect_only_error([&] { keys::openssh_public_line(attrs); });
  }
}

void
blobs(std::span<const uint8_t> pub_bytes, std::span<const uint8_t> priv_bytes)
{
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  bool have_pub = false;
  fuzz::expect_only_error([&] {
    pub = tpm::unmarshal_public(pub_bytes);
    have_pub = true;
  });
  fuzz::expect_only_error([&] { priv = tpm::unmarshal_private(priv_bytes); });
  if (have_pub) {
    build_objects(pub, priv);
  }
}

void
pem(std::string_view text)
{
  keys::Tss2Key key;
  bool ok = false;
  fuzz::expect_only_error([&] {
    key = keys::decode_tss2_pem(text);
    ok = true;
  });
  if (!ok) {
    return;
  }
  keys::Tss2Key again = keys::decode_tss2_pem(keys::encode_tss2_pem(key));
  fuzz::fuzz_require(again.empty_auth == key.empty_auth && again.parent == key.parent
                       && again.pub == key.pub && again.priv == key.priv,
                     "TSS2 key changed in encode -> decode");
  blobs(key.pub, key.priv);
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  auto bytes = fuzz::as_bytes(data, size);
  std::string_view text = fuzz::as_text(data, size);
  if (text.find("-----BEGIN") != std::string_view::npos) {
    pem(text);
  } else {
    pem(as_pem(bytes));
    // tpm2-tools blobs: link tries each file as either kind.
    blobs(bytes, bytes);
  }
  return 0;
}
