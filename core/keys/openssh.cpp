// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/openssh.hpp"

#include <openssl/evp.h>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/wire.hpp"

namespace ptool::keys {

namespace {

using wire::put_mpint;
using wire::put_string;
using wire::put_u32;

// RFC 4251 mpint from unsigned big-endian bytes: no leading zeros, a 0x00 pad when the top
// bit is set.
} // namespace

std::string
base64(std::span<const uint8_t> data)
{
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string>
openssh_public_line(const AttrMap& attrs)
{
  auto type = attr_int(attrs, ck::k_key_type);
  if (!type) {
    return std::nullopt;
  }
  Bytes blob;
  std::string key_type;
  if (*type == ck::k_k_rsa) {
    const Bytes* n = attr_bytes(attrs, ck::k_modulus);
    const Bytes* e = attr_bytes(attrs, ck::k_public_exponent);
    if (!n || n->empty()) {
      return std::nullopt;
    }
    key_type = "ssh-rsa";
    put_string(blob, key_type);
    put_mpint(blob, e && !e->empty() ? *e : Bytes{1, 0, 1});
    put_mpint(blob, *n);
  } else if (*type == ck::k_k_ec) {
    const Bytes* params = attr_bytes(attrs, ck::k_ec_params);
    const Bytes* point = attr_bytes(attrs, ck::k_ec_point);
    if (!params || !point) {
      return std::nullopt;
    }
    auto curve = curve_by_params(*params);
    auto raw = curve ? ec_point_for_curve(*point, *curve) : std::nullopt;
    if (!curve || !curve->ssh_name || !raw) {
      return std::nullopt;
    }
    key_type = std::string("ecdsa-sha2-") + curve->ssh_name;
    put_string(blob, key_type);
    put_string(blob, curve->ssh_name);
    put_string(blob, *raw);
  } else {
    return std::nullopt;
  }
  std::string line = key_type + " " + base64(blob);
  const Bytes* label = attr_bytes(attrs, ck::k_label);
  if (label && !label->empty()) {
    line += " "
            + printable_comment(
              std::string_view(reinterpret_cast<const char*>(label->data()), label->size()));
  }
  return line;
}

std::string
printable_comment(std::string_view label)
{
  std::string out;
  out.reserve(label.size());
  size_t i = 0;
  while (i < label.size()) {
    auto c = static_cast<unsigned char>(label[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= label.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; ok && k < len; ++k) {
      auto cc = static_cast<unsigned char>(label[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = cp << 6 | (cc & 0x3f);
    }
    static constexpr uint32_t k_min[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= k_min[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    bool control = cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
    if (!ok || control) {
      out += '?';
      i += ok ? len : 1; // a broken sequence: replace its first byte, look again at the next
    } else {
      out.append(label.substr(i, len));
      i += len;
    }
  }
  return out;
}

Bytes
openssh_fingerprint_digest(const std::string& public_line)
{
  auto sp1 = public_line.find(' ');
  auto sp2 = public_line.find(' ', sp1 + 1);
  std::string b64 = public_line.substr(sp1 + 1, sp2 == std::string::npos ? sp2 : sp2 - sp1 - 1);
  Bytes blob(b64.size());
  int n = EVP_DecodeBlock(blob.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) {
    throw Error(ExitCode::k_general, "cannot decode an OpenSSH public key");
  }
  size_t pad = 0;
  for (auto it = b64.rbegin(); it != b64.rend() && *it == '='; ++it) {
    ++pad;
  }
  blob.resize(static_cast<size_t>(n) - pad);
  return crypto::sha256(blob);
}

std::string
openssh_fingerprint(const std::string& public_line)
{
  std::string fp = base64(openssh_fingerprint_digest(public_line));
  while (!fp.empty() && fp.back() == '=') {
    fp.pop_back();
  }
  return "SHA256:" + fp;
}

} // namespace ptool::keys
