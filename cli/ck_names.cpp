// SPDX-License-Identifier: BSD-2-Clause
#include "cli/ck_names.hpp"

#include <cstdio>
#include <utility>

namespace ptool::cli {

namespace {

using Entry = std::pair<uint64_t, const char*>;

constexpr Entry k_cko[] = {
  {1, "CKO_CERTIFICATE"}, {2, "CKO_PUBLIC_KEY"}, {3, "CKO_PRIVATE_KEY"}, {4, "CKO_SECRET_KEY"}};
constexpr Entry k_ckk[] = {
  {0x0, "CKK_RSA"},          {0x3, "CKK_EC"},          {0x10, "CKK_GENERIC_SECRET"},
  {0x1f, "CKK_AES"},         {0x28, "CKK_SHA_1_HMAC"}, {0x2b, "CKK_SHA256_HMAC"},
  {0x2c, "CKK_SHA384_HMAC"}, {0x2d, "CKK_SHA512_HMAC"}};
constexpr Entry k_cka[] = {
  {0x0, "CKA_CLASS"},
  {0x1, "CKA_TOKEN"},
  {0x2, "CKA_PRIVATE"},
  {0x3, "CKA_LABEL"},
  {0x11, "CKA_VALUE"},
  {0x80, "CKA_CERTIFICATE_TYPE"},
  {0x81, "CKA_ISSUER"},
  {0x82, "CKA_SERIAL_NUMBER"},
  {0x86, "CKA_TRUSTED"},
  {0x87, "CKA_CERTIFICATE_CATEGORY"},
  {0x88, "CKA_JAVA_MIDP_SECURITY_DOMAIN"},
  {0x89, "CKA_URL"},
  {0x90, "CKA_CHECK_VALUE"},
  {0x8a, "CKA_HASH_OF_SUBJECT_PUBLIC_KEY"},
  {0x8b, "CKA_HASH_OF_ISSUER_PUBLIC_KEY"},
  {0x8c, "CKA_NAME_HASH_ALGORITHM"},
  {0x100, "CKA_KEY_TYPE"},
  {0x101, "CKA_SUBJECT"},
  {0x102, "CKA_ID"},
  {0x103, "CKA_SENSITIVE"},
  {0x104, "CKA_ENCRYPT"},
  {0x105, "CKA_DECRYPT"},
  {0x106, "CKA_WRAP"},
  {0x107, "CKA_UNWRAP"},
  {0x108, "CKA_SIGN"},
  {0x109, "CKA_SIGN_RECOVER"},
  {0x10a, "CKA_VERIFY"},
  {0x10b, "CKA_VERIFY_RECOVER"},
  {0x10c, "CKA_DERIVE"},
  {0x110, "CKA_START_DATE"},
  {0x111, "CKA_END_DATE"},
  {0x120, "CKA_MODULUS"},
  {0x121, "CKA_MODULUS_BITS"},
  {0x122, "CKA_PUBLIC_EXPONENT"},
  {0x129, "CKA_PUBLIC_KEY_INFO"},
  {0x161, "CKA_VALUE_LEN"},
  {0x162, "CKA_EXTRACTABLE"},
  {0x163, "CKA_LOCAL"},
  {0x164, "CKA_NEVER_EXTRACTABLE"},
  {0x165, "CKA_ALWAYS_SENSITIVE"},
  {0x166, "CKA_KEY_GEN_MECHANISM"},
  {0x170, "CKA_MODIFIABLE"},
  {0x171, "CKA_COPYABLE"},
  {0x172, "CKA_DESTROYABLE"},
  {0x180, "CKA_EC_PARAMS"},
  {0x181, "CKA_EC_POINT"},
  {0x202, "CKA_ALWAYS_AUTHENTICATE"},
  {0x210, "CKA_WRAP_WITH_TRUSTED"},
  {0x40000211, "CKA_WRAP_TEMPLATE"},
  {0x40000212, "CKA_UNWRAP_TEMPLATE"},
  {0x40000600, "CKA_ALLOWED_MECHANISMS"},
  {0x80000000, "CKA_VENDOR_DEFINED"},
  {0x0f000000, "CKA_VENDOR_TPM2_DEFINED"},
  {0x8f000001, "CKA_TPM2_OBJAUTH_ENC"},
  {0x8f000002, "CKA_TPM2_PUB_BLOB"},
  {0x8f000003, "CKA_TPM2_PRIV_BLOB"},
};

template<size_t N>
std::optional<std::string>
lookup(const Entry (&table)[N], uint64_t v)
{
  for (const auto& [num, name] : table) {
    if (num == v) {
      return name;
    }
  }
  return std::nullopt;
}

std::string
hex_number(uint64_t v)
{
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llX", static_cast<unsigned long long>(v));
  return buf;
}

} // namespace

std::string
cko_name(uint64_t v)
{
  return lookup(k_cko, v).value_or(hex_number(v));
}

std::string
ckk_name(uint64_t v)
{
  return lookup(k_ckk, v).value_or(hex_number(v));
}

std::optional<std::string>
cka_name(uint64_t v)
{
  return lookup(k_cka, v);
}

std::optional<uint64_t>
cka_by_name(const std::string& name)
{
  for (const auto& [num, n] : k_cka) {
    if (name == n) {
      return num;
    }
  }
  return std::nullopt;
}

} // namespace ptool::cli
