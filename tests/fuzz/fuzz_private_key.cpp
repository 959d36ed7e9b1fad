// SPDX-License-Identifier: BSD-2-Clause
// `import`'s key file reader: PEM (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8), DER and
// OpenSSH openssh-key-v1, once without and once with a passphrase. Rejection is a
// ptool::Error; a decoded key must be self-consistent enough for TPM2_Import.
#include <optional>

#include "core/keys/private_key_codec.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace ptool;

namespace {

void
check(const keys::PlainKey& key)
{
  switch (key.kind) {
  case keys::PlainKey::Kind::k_rsa:
    fuzz::fuzz_require(!key.modulus.empty() && !key.prime.empty(), "RSA key without n or p");
    break;
  case keys::PlainKey::Kind::k_ec:
    // x, y and d are padded to the field size of the curve.
    fuzz::fuzz_require(!key.curve.empty() && key.x.size() == key.y.size()
                         && key.scalar.size() == key.x.size(),
                       "EC key components of different sizes");
    break;
  case keys::PlainKey::Kind::k_hmac:
    break;
  }
}

} // namespace

// bcrypt_pbkdf is slow by design (import accepts up to keys::k_max_kdf_rounds, seconds per
// key): a lower cap keeps the fuzzer on the parsers rather than in the KDF.
constexpr uint32_t k_fuzz_kdf_rounds = 16;

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  auto file = fuzz::as_bytes(data, size);
  fuzz::expect_only_error(
    [&] { check(keys::decode_private_key(file, std::nullopt, k_fuzz_kdf_rounds)); });
  fuzz::expect_only_error([&] {
    check(keys::decode_private_key(file, SecureBytes::from("fuzz-passphrase"), k_fuzz_kdf_rounds));
  });
  return 0;
}
