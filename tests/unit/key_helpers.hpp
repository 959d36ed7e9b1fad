// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include "core/c_handles.hpp"
#include "core/hex.hpp"

// OpenSSL-made keys for the key tests: the reference the code under test is compared with.
namespace ptool::test {

inline EvpPkey
generate_rsa(unsigned bits)
{
  return EvpPkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}

inline EvpPkey
generate_ec(const char* curve)
{
  return EvpPkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

// Minimal big-endian bytes of a BIGNUM parameter (BN_bn2bin: no leading zeros).
inline Bytes
bn_param(EVP_PKEY* key, const char* name)
{
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    ADD_FAILURE() << "no parameter " << name;
    return {};
  }
  Bignum bn(raw);
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

// The uncompressed public point 04||X||Y.
inline Bytes
ec_point(EVP_PKEY* key)
{
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &len);
  Bytes out(len);
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out.data(), len, &len);
  return out;
}

// "type base64" of `ssh-keygen -y -f <pem>` for `key` (the comment field dropped); empty
// when ssh-keygen is unavailable or fails.
inline std::string
ssh_keygen_public(EVP_PKEY* key, const std::filesystem::path& dir)
{
  std::filesystem::path pem = dir / "key.pem";
  FILE* f = std::fopen(pem.c_str(), "w");
  if (!f) {
    return {};
  }
  chmod(pem.c_str(), 0600); // ssh-keygen refuses readable private keys
  bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) {
    return {};
  }
  std::string cmd = "ssh-keygen -y -f '" + pem.string() + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    return {};
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    out.append(buf, n);
  }
  if (pclose(p) != 0) {
    return {};
  }
  size_t sp1 = out.find(' ');
  size_t end = out.find_first_of(" \n", sp1 + 1);
  return out.substr(0, end);
}

inline bool
have_ssh_keygen()
{
  return std::system("command -v ssh-keygen >/dev/null 2>&1") == 0;
}

} // namespace ptool::test
