// SPDX-License-Identifier: BSD-2-Clause
#include "format/ck_names.hpp"

#include <cstdio>
#include <utility>

#include "core/keys/pkcs11_ids.hpp"

namespace ptool::format {

namespace {

using Entry = std::pair<uint64_t, const char*>;

constexpr Entry k_cko[] = {{ck::k_o_certificate, "CKO_CERTIFICATE"},
                           {ck::k_o_public_key, "CKO_PUBLIC_KEY"},
                           {ck::k_o_private_key, "CKO_PRIVATE_KEY"},
                           {ck::k_o_secret_key, "CKO_SECRET_KEY"}};
constexpr Entry k_ckk[] = {{ck::k_k_rsa, "CKK_RSA"},
                           {ck::k_k_ec, "CKK_EC"},
                           {ck::k_k_generic_secret, "CKK_GENERIC_SECRET"},
                           {ck::k_k_aes, "CKK_AES"},
                           {ck::k_k_sha_1_hmac, "CKK_SHA_1_HMAC"},
                           {ck::k_k_sha256_hmac, "CKK_SHA256_HMAC"},
                           {ck::k_k_sha384_hmac, "CKK_SHA384_HMAC"},
                           {ck::k_k_sha512_hmac, "CKK_SHA512_HMAC"}};
constexpr Entry k_cka[] = {
  {ck::k_class, "CKA_CLASS"},
  {ck::k_token, "CKA_TOKEN"},
  {ck::k_private, "CKA_PRIVATE"},
  {ck::k_label, "CKA_LABEL"},
  {ck::k_value, "CKA_VALUE"},
  {ck::k_certificate_type, "CKA_CERTIFICATE_TYPE"},
  {ck::k_issuer, "CKA_ISSUER"},
  {ck::k_serial_number, "CKA_SERIAL_NUMBER"},
  {ck::k_trusted, "CKA_TRUSTED"},
  {ck::k_certificate_category, "CKA_CERTIFICATE_CATEGORY"},
  {ck::k_java_midp_security_domain, "CKA_JAVA_MIDP_SECURITY_DOMAIN"},
  {ck::k_url, "CKA_URL"},
  {ck::k_check_value, "CKA_CHECK_VALUE"},
  {ck::k_hash_of_subject_public_key, "CKA_HASH_OF_SUBJECT_PUBLIC_KEY"},
  {ck::k_hash_of_issuer_public_key, "CKA_HASH_OF_ISSUER_PUBLIC_KEY"},
  {ck::k_name_hash_algorithm, "CKA_NAME_HASH_ALGORITHM"},
  {ck::k_key_type, "CKA_KEY_TYPE"},
  {ck::k_subject, "CKA_SUBJECT"},
  {ck::k_id, "CKA_ID"},
  {ck::k_sensitive, "CKA_SENSITIVE"},
  {ck::k_encrypt, "CKA_ENCRYPT"},
  {ck::k_decrypt, "CKA_DECRYPT"},
  {ck::k_wrap, "CKA_WRAP"},
  {ck::k_unwrap, "CKA_UNWRAP"},
  {ck::k_sign, "CKA_SIGN"},
  {ck::k_sign_recover, "CKA_SIGN_RECOVER"},
  {ck::k_verify, "CKA_VERIFY"},
  {ck::k_verify_recover, "CKA_VERIFY_RECOVER"},
  {ck::k_derive, "CKA_DERIVE"},
  {ck::k_start_date, "CKA_START_DATE"},
  {ck::k_end_date, "CKA_END_DATE"},
  {ck::k_modulus, "CKA_MODULUS"},
  {ck::k_modulus_bits, "CKA_MODULUS_BITS"},
  {ck::k_public_exponent, "CKA_PUBLIC_EXPONENT"},
  {ck::k_public_key_info, "CKA_PUBLIC_KEY_INFO"},
  {ck::k_value_len, "CKA_VALUE_LEN"},
  {ck::k_extractable, "CKA_EXTRACTABLE"},
  {ck::k_local, "CKA_LOCAL"},
  {ck::k_never_extractable, "CKA_NEVER_EXTRACTABLE"},
  {ck::k_always_sensitive, "CKA_ALWAYS_SENSITIVE"},
  {ck::k_key_gen_mechanism, "CKA_KEY_GEN_MECHANISM"},
  {ck::k_modifiable, "CKA_MODIFIABLE"},
  {ck::k_copyable, "CKA_COPYABLE"},
  {ck::k_destroyable, "CKA_DESTROYABLE"},
  {ck::k_ec_params, "CKA_EC_PARAMS"},
  {ck::k_ec_point, "CKA_EC_POINT"},
  {ck::k_always_authenticate, "CKA_ALWAYS_AUTHENTICATE"},
  {ck::k_wrap_with_trusted, "CKA_WRAP_WITH_TRUSTED"},
  {ck::k_wrap_template, "CKA_WRAP_TEMPLATE"},
  {ck::k_unwrap_template, "CKA_UNWRAP_TEMPLATE"},
  {ck::k_allowed_mechanisms, "CKA_ALLOWED_MECHANISMS"},
  {ck::k_vendor_defined, "CKA_VENDOR_DEFINED"},
  {ck::k_vendor_tpm2_defined, "CKA_VENDOR_TPM2_DEFINED"},
  {ck::k_tpm2_objauth_enc, "CKA_TPM2_OBJAUTH_ENC"},
  {ck::k_tpm2_pub_blob, "CKA_TPM2_PUB_BLOB"},
  {ck::k_tpm2_priv_blob, "CKA_TPM2_PRIV_BLOB"},
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

} // namespace ptool::format
