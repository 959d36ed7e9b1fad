// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/private_key_codec.hpp"

#include <cstring>
#include <string_view>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/keys/openssh_cipher.hpp"

namespace ptool::keys {

namespace {

using DecoderCtx = CHandle<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;

constexpr std::string_view k_openssh_begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view k_openssh_end = "-----END OPENSSH PRIVATE KEY-----";

[[noreturn]] void
bad_input(const std::string& what, std::string hint = {})
{
  throw Error(ExitCode::k_usage, what, std::move(hint));
}

size_t
field_bytes(const std::string& curve)
{
  if (curve == "secp224r1") {
    return 28;
  }
  if (curve == "prime256v1") {
    return 32;
  }
  if (curve == "secp384r1") {
    return 48;
  }
  if (curve == "secp521r1") {
    return 66;
  }
  throw Error(ExitCode::k_unsupported, "EC curve " + curve + " cannot be imported",
              "the TPM supports NIST P-224, P-256, P-384 and P-521 at most");
}

template<typename Out>
Out
padded(std::span<const uint8_t> v, size_t n)
{
  if (v.size() > n) {
    bad_input("EC key component longer than its curve allows");
  }
  Out out(n - v.size(), 0);
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

// ---- OpenSSL-readable formats -------------------------------------------------------------

Bytes
bn_param(EVP_PKEY* pkey, const char* name)
{
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    throw Error(ExitCode::k_general, std::string("cannot read key parameter ") + name);
  }
  Bignum bn(raw);
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

SecureBytes
secret_param(EVP_PKEY* pkey, const char* name)
{
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    throw Error(ExitCode::k_general, std::string("cannot read key parameter ") + name);
  }
  CHandle<BIGNUM, BN_clear_free> bn(raw);
  SecureBytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

uint32_t
exponent_of(const Bytes& e)
{
  if (e.empty() || e.size() > 4) {
    throw Error(ExitCode::k_unsupported, "RSA public exponent too large for the TPM");
  }
  uint32_t v = 0;
  for (uint8_t b : e) {
    v = v << 8 | b;
  }
  return v;
}

PlainKey
from_evp(EVP_PKEY* pkey)
{
  PlainKey k;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    k.kind = PlainKey::Kind::k_rsa;
    k.modulus = bn_param(pkey, OSSL_PKEY_PARAM_RSA_N);
    k.exponent = exponent_of(bn_param(pkey, OSSL_PKEY_PARAM_RSA_E));
    k.prime = secret_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1);
    return k;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       nullptr)
        != 1) {
      throw Error(ExitCode::k_unsupported,
                  "EC keys with explicit curve parameters cannot be imported");
    }
    k.kind = PlainKey::Kind::k_ec;
    k.curve = group;
    size_t n = field_bytes(k.curve);
    k.x = padded<Bytes>(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X), n);
    k.y = padded<Bytes>(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y), n);
    SecureBytes d = secret_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
    k.scalar = padded<SecureBytes>(d, n);
    return k;
  }
  throw Error(ExitCode::k_unsupported,
              std::string("cannot import a ") + EVP_PKEY_get0_type_name(pkey) + " key into a TPM",
              "only RSA and NIST EC keys can be imported");
}

bool
looks_encrypted(std::string_view text)
{
  return text.find("ENCRYPTED") != std::string_view::npos;
}

PlainKey
decode_openssl(std::span<const uint8_t> file, const std::optional<SecureBytes>& passphrase)
{
  EVP_PKEY* raw = nullptr;
  DecoderCtx dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, nullptr, nullptr, nullptr,
                                                OSSL_KEYMGMT_SELECT_PRIVATE_KEY, nullptr, nullptr));
  if (!dctx) {
    throw Error(ExitCode::k_general, "OpenSSL has no key decoders");
  }
  // An empty passphrase rather than none: OpenSSL must never prompt on the terminal itself.
  SecureBytes pass = passphrase.value_or(SecureBytes{});
  OSSL_DECODER_CTX_set_passphrase(
    dctx.get(), pass.empty() ? reinterpret_cast<const uint8_t*>("") : pass.data(), pass.size());
  const unsigned char* data = file.data();
  size_t len = file.size();
  int ok = OSSL_DECODER_from_data(dctx.get(), &data, &len);
  EvpPkey pkey(raw);
  ERR_clear_error();
  if (ok != 1 || !pkey) {
    std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    if (looks_encrypted(text) || text.find("-----BEGIN") == std::string_view::npos) {
      if (!passphrase && looks_encrypted(text)) {
        throw Error(ExitCode::k_auth, "the private key file is encrypted",
                    "give its passphrase with --passin pass:X, env:VAR or file:PATH");
      }
      if (passphrase && looks_encrypted(text)) {
        throw Error(ExitCode::k_auth, "cannot decrypt the private key: wrong passphrase");
      }
    }
    bad_input("the file is not an RSA or EC private key OpenSSL can read (PEM, DER, PKCS#8) "
              "or an OpenSSH private key");
  }
  return from_evp(pkey.get());
}

// ---- openssh-key-v1 (PROTOCOL.key in OpenSSH) -----------------------------------------------

struct SshReader
{
  std::span<const uint8_t> data;
  size_t pos = 0;

  uint32_t u32()
  {
    if (data.size() - pos < 4) {
      bad_input("truncated OpenSSH private key");
    }
    uint32_t v = static_cast<uint32_t>(data[pos]) << 24 | static_cast<uint32_t>(data[pos + 1]) << 16
                 | static_cast<uint32_t>(data[pos + 2]) << 8 | data[pos + 3];
    pos += 4;
    return v;
  }
  std::span<const uint8_t> bytes()
  {
    uint32_t n = u32();
    if (data.size() - pos < n) {
      bad_input("truncated OpenSSH private key");
    }
    auto out = data.subspan(pos, n);
    pos += n;
    return out;
  }
  std::string str()
  {
    auto b = bytes();
    return std::string(b.begin(), b.end());
  }
  // mpint: two's complement big-endian; drop the sign byte.
  SecureBytes mpint()
  {
    auto b = bytes();
    size_t i = 0;
    while (i < b.size() && b[i] == 0) {
      ++i;
    }
    return SecureBytes(b.begin() + static_cast<std::ptrdiff_t>(i), b.end());
  }
};

SecureBytes
base64_decode(std::string_view text)
{
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      clean += c;
    }
  }
  SecureBytes out(clean.size() / 4 * 3 + 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0 || clean.size() % 4 != 0) {
    bad_input("the OpenSSH private key is not valid base64");
  }
  size_t pad = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) {
    ++pad;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

PlainKey
decode_openssh(std::string_view text, const std::optional<SecureBytes>& passphrase,
               uint32_t max_kdf_rounds)
{
  size_t b = text.find(k_openssh_begin);
  size_t e = text.find(k_openssh_end);
  if (e == std::string_view::npos || e < b) {
    bad_input("incomplete OpenSSH private key");
  }
  SecureBytes blob =
    base64_decode(text.substr(b + k_openssh_begin.size(), e - b - k_openssh_begin.size()));
  static constexpr char k_magic[] = "openssh-key-v1"; // followed by a NUL byte
  if (blob.size() < sizeof(k_magic) || std::memcmp(blob.data(), k_magic, sizeof(k_magic)) != 0) {
    bad_input("not an openssh-key-v1 private key");
  }
  SshReader r{std::span<const uint8_t>(blob).subspan(sizeof(k_magic))};
  OpensshSealed sealed;
  sealed.cipher = r.str();
  sealed.kdf = r.str();
  sealed.kdf_options = r.bytes();
  if (r.u32() != 1) {
    bad_input("OpenSSH key files with several keys are not supported");
  }
  r.bytes(); // public key blob (repeated in the private section)
  sealed.ciphertext = r.bytes();
  sealed.trailer = r.data.subspan(r.pos);
  bool encrypted = sealed.cipher != "none" || sealed.kdf != "none";
  SecureBytes clear;
  if (encrypted) {
    clear = openssh_decrypt(sealed, passphrase, max_kdf_rounds);
  }
  SshReader p{encrypted ? std::span<const uint8_t>(clear) : sealed.ciphertext};
  if (p.u32() != p.u32()) {
    if (encrypted) {
      throw Error(ExitCode::k_auth, "cannot decrypt the OpenSSH private key: wrong passphrase",
                  "check the passphrase given with --passin");
    }
    bad_input("corrupt OpenSSH private key (check bytes differ)");
  }
  std::string type = p.str();
  PlainKey k;
  if (type == "ssh-rsa") {
    k.kind = PlainKey::Kind::k_rsa;
    SecureBytes n = p.mpint();
    SecureBytes ex = p.mpint();
    p.mpint(); // d
    p.mpint(); // iqmp
    k.prime = p.mpint();
    k.modulus.assign(n.begin(), n.end());
    k.exponent = exponent_of(Bytes(ex.begin(), ex.end()));
    return k;
  }
  if (type.rfind("ecdsa-sha2-", 0) == 0) {
    std::string ssh_curve = p.str();
    static const std::pair<const char*, const char*> k_curves[] = {
      {"nistp256", "prime256v1"}, {"nistp384", "secp384r1"}, {"nistp521", "secp521r1"}};
    for (const auto& [ssh, ossl] : k_curves) {
      if (ssh_curve == ssh) {
        k.curve = ossl;
      }
    }
    if (k.curve.empty()) {
      throw Error(ExitCode::k_unsupported, "unknown OpenSSH EC curve " + ssh_curve);
    }
    k.kind = PlainKey::Kind::k_ec;
    size_t n = field_bytes(k.curve);
    auto q = p.bytes();
    if (q.size() != 1 + 2 * n || q[0] != 0x04) {
      bad_input("OpenSSH EC public point is not uncompressed");
    }
    k.x.assign(q.begin() + 1, q.begin() + 1 + static_cast<std::ptrdiff_t>(n));
    k.y.assign(q.begin() + 1 + static_cast<std::ptrdiff_t>(n), q.end());
    SecureBytes d = p.mpint();
    k.scalar = padded<SecureBytes>(d, n);
    return k;
  }
  throw Error(ExitCode::k_unsupported, "cannot import an OpenSSH " + type + " key into a TPM",
              "only ssh-rsa and ecdsa-sha2-nistp* keys can be imported");
}

} // namespace

PlainKey
decode_private_key(std::span<const uint8_t> file, const std::optional<SecureBytes>& passphrase,
                   uint32_t max_kdf_rounds)
{
  std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  if (text.find(k_openssh_begin) != std::string_view::npos) {
    return decode_openssh(text, passphrase, max_kdf_rounds);
  }
  return decode_openssl(file, passphrase);
}

} // namespace ptool::keys
