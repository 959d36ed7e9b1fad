// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/webauthn.hpp"

#include <map>

#include <openssl/x509.h>

#include "core/attest/ak_cert.hpp"
#include "core/attest/doc.hpp"
#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::attest {

namespace {

using X509Ptr = CHandle<X509, X509_free>;

// CBOR (RFC 8949) major types we write and read.
constexpr uint8_t k_uint = 0, k_nint = 1, k_bytes = 2, k_text = 3, k_array = 4, k_map = 5;

void
head(Bytes& out, uint8_t major, uint64_t n)
{
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<uint8_t>(m | n));
  } else if (n < 0x100) {
    out.insert(out.end(), {static_cast<uint8_t>(m | 24), static_cast<uint8_t>(n)});
  } else if (n < 0x10000) {
    out.insert(out.end(), {static_cast<uint8_t>(m | 25), static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(n)});
  } else {
    out.push_back(static_cast<uint8_t>(m | 26));
    for (int s = 24; s >= 0; s -= 8) {
      out.push_back(static_cast<uint8_t>(n >> s));
    }
  }
}

void
text(Bytes& out, std::string_view s)
{
  head(out, k_text, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void
bytes(Bytes& out, std::span<const uint8_t> b)
{
  head(out, k_bytes, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

[[noreturn]] void
bad(const std::string& what)
{
  throw Error(ExitCode::k_attest_failed, "attestation check failed: webauthn_att_stmt " + what);
}

// A reader for exactly the shapes webauthn_statement writes.
struct Reader
{
  std::span<const uint8_t> in;
  size_t pos = 0;

  std::pair<uint8_t, uint64_t> next_head()
  {
    if (pos >= in.size()) {
      bad("is truncated CBOR");
    }
    uint8_t b = in[pos++];
    uint8_t major = b >> 5;
    uint8_t info = b & 31;
    uint64_t n = info;
    if (info >= 24) {
      size_t len = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
      if (len == 0 || in.size() - pos < len) {
        bad("is not CBOR this tool reads");
      }
      n = 0;
      for (size_t i = 0; i < len; ++i) {
        n = n << 8 | in[pos++];
      }
    }
    return {major, n};
  }
  Bytes take(uint64_t n)
  {
    if (in.size() - pos < n) {
      bad("is truncated CBOR");
    }
    Bytes out(in.begin() + static_cast<long>(pos), in.begin() + static_cast<long>(pos + n));
    pos += n;
    return out;
  }
};

} // namespace

Bytes
webauthn_statement(std::span<const uint8_t> ak_cert_der, std::span<const uint8_t> sig_der,
                   std::span<const uint8_t> cert_info, std::span<const uint8_t> pub_area)
{
  Bytes out;
  head(out, k_map, 6);
  text(out, "alg");
  head(out, k_nint, 6); // -7: ES256
  text(out, "sig");
  bytes(out, sig_der);
  text(out, "ver");
  text(out, "2.0");
  text(out, "x5c");
  head(out, k_array, 1);
  bytes(out, ak_cert_der);
  text(out, "pubArea");
  bytes(out, pub_area);
  text(out, "certInfo");
  bytes(out, cert_info);
  return out;
}

void
check_webauthn_statement(std::span<const uint8_t> cbor, std::span<const uint8_t> cert_info,
                         std::span<const uint8_t> pub_area, EVP_PKEY* ak_key,
                         const std::optional<std::string>& ak_cert_b64)
{
  Reader r{cbor};
  auto [major, count] = r.next_head();
  if (major != k_map || count > 16) {
    bad("is not a CBOR map");
  }
  std::map<std::string, Bytes> fields;
  int64_t alg = 0;
  std::vector<Bytes> x5c;
  std::string ver;
  for (uint64_t i = 0; i < count; ++i) {
    auto [km, kn] = r.next_head();
    if (km != k_text) {
      bad("has a key that is not text");
    }
    Bytes kb = r.take(kn);
    std::string key(kb.begin(), kb.end());
    auto [vm, vn] = r.next_head();
    if (key == "alg" && (vm == k_nint || vm == k_uint)) {
      alg = vm == k_nint ? -1 - static_cast<int64_t>(vn) : static_cast<int64_t>(vn);
    } else if (key == "ver" && vm == k_text) {
      Bytes v = r.take(vn);
      ver.assign(v.begin(), v.end());
    } else if (key == "x5c" && vm == k_array && vn <= 8) {
      for (uint64_t j = 0; j < vn; ++j) {
        auto [cm, cn] = r.next_head();
        if (cm != k_bytes) {
          bad("x5c holds something other than certificates");
        }
        x5c.push_back(r.take(cn));
      }
    } else if (vm == k_bytes && (key == "sig" || key == "certInfo" || key == "pubArea")) {
      fields[key] = r.take(vn);
    } else {
      bad("has an unexpected field \"" + key + "\"");
    }
  }
  if (r.pos != cbor.size()) {
    bad("has trailing bytes");
  }
  if (ver != "2.0" || alg != -7) {
    bad("is not ver \"2.0\" with alg -7 (ES256)");
  }
  if (fields["certInfo"] != Bytes(cert_info.begin(), cert_info.end())
      || fields["pubArea"] != Bytes(pub_area.begin(), pub_area.end())) {
    bad("certInfo or pubArea differ from the checked cert_info and pub_area");
  }
  if (x5c.empty()) {
    bad("has no AK certificate in x5c");
  }
  const unsigned char* p = x5c[0].data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(x5c[0].size())));
  if (!cert || EVP_PKEY_eq(X509_get0_pubkey(cert.get()), ak_key) != 1) {
    bad("x5c[0] is not a certificate for the enrolled AK");
  }
  if (ak_cert_b64 && base64_decode(*ak_cert_b64) != x5c[0]) {
    bad("x5c[0] is not the AK certificate issued at enrollment");
  }
  if (!verify_es256(ak_key, cert_info, fields["sig"])) {
    bad("sig does not verify over certInfo");
  }
}

} // namespace ptool::attest
