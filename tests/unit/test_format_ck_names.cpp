// SPDX-License-Identifier: BSD-2-Clause
// format/ck_names: the names listobjects and objmod print and accept, over the numbers of
// core/keys/pkcs11_ids.hpp, checked against p11-kit's pkcs11.h (the header the module is
// built with) so a wrong number in either table fails here.
#include <gtest/gtest.h>

#include <p11-kit-1/p11-kit/pkcs11.h>

#include "core/keys/pkcs11_ids.hpp"
#include "format/ck_names.hpp"

namespace ptool::format {
namespace {

TEST(FormatCkNames, NumbersAgreeWithPkcs11Header)
{
  struct
  {
    unsigned long header;
    uint64_t ours;
    const char* name;
  } const cases[] = {
    {CKA_CLASS, ck::k_class, "CKA_CLASS"},
    {CKA_LABEL, ck::k_label, "CKA_LABEL"},
    {CKA_ISSUER, ck::k_issuer, "CKA_ISSUER"},
    {CKA_SERIAL_NUMBER, ck::k_serial_number, "CKA_SERIAL_NUMBER"},
    {CKA_CERTIFICATE_CATEGORY, ck::k_certificate_category, "CKA_CERTIFICATE_CATEGORY"},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, ck::k_java_midp_security_domain,
     "CKA_JAVA_MIDP_SECURITY_DOMAIN"},
    {CKA_URL, ck::k_url, "CKA_URL"},
    {CKA_CHECK_VALUE, ck::k_check_value, "CKA_CHECK_VALUE"},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, ck::k_hash_of_subject_public_key,
     "CKA_HASH_OF_SUBJECT_PUBLIC_KEY"},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, ck::k_hash_of_issuer_public_key,
     "CKA_HASH_OF_ISSUER_PUBLIC_KEY"},
    {CKA_NAME_HASH_ALGORITHM, ck::k_name_hash_algorithm, "CKA_NAME_HASH_ALGORITHM"},
    {CKA_ID, ck::k_id, "CKA_ID"},
    {CKA_EC_POINT, ck::k_ec_point, "CKA_EC_POINT"},
    {CKA_ALWAYS_AUTHENTICATE, ck::k_always_authenticate, "CKA_ALWAYS_AUTHENTICATE"},
    {CKA_WRAP_TEMPLATE, ck::k_wrap_template, "CKA_WRAP_TEMPLATE"},
    {CKA_ALLOWED_MECHANISMS, ck::k_allowed_mechanisms, "CKA_ALLOWED_MECHANISMS"},
    {CKA_VENDOR_DEFINED, ck::k_vendor_defined, "CKA_VENDOR_DEFINED"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.ours, c.header) << c.name;
    EXPECT_EQ(cka_name(c.ours), c.name);
    EXPECT_EQ(cka_by_name(c.name), c.ours);
  }
  EXPECT_EQ(ck::k_m_sha_1, CKM_SHA_1);
  EXPECT_EQ(ck::k_k_sha512_hmac, CKK_SHA512_HMAC);
  EXPECT_EQ(cko_name(CKO_PRIVATE_KEY), "CKO_PRIVATE_KEY");
  EXPECT_EQ(ckk_name(CKK_GENERIC_SECRET), "CKK_GENERIC_SECRET");
  EXPECT_EQ(ckk_name(CKK_EC), "CKK_EC");
}

TEST(FormatCkNames, UnknownNumbersAndNames)
{
  EXPECT_EQ(cko_name(0x1234), "0x1234"); // as upstream prints a class it has no name for
  EXPECT_EQ(ckk_name(0x8000000a), "0x8000000A");
  EXPECT_EQ(cka_name(0x7777), std::nullopt);
  EXPECT_EQ(cka_by_name("CKA_NOPE"), std::nullopt);
  EXPECT_EQ(cka_by_name("cka_label"), std::nullopt); // matched exactly
  // The vendor attributes of tpm2-pkcs11, as its pkcs11t.py spells them.
  EXPECT_EQ(cka_name(ck::k_tpm2_objauth_enc), "CKA_TPM2_OBJAUTH_ENC");
  EXPECT_EQ(cka_by_name("CKA_VENDOR_TPM2_DEFINED"), 0x0f000000u);
}

} // namespace
} // namespace ptool::format
