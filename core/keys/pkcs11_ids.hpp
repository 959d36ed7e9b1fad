// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>

// The PKCS#11 numbers the store uses, without pulling pkcs11.h into core/ (the ones the
// store holds are listed in docs/store-format.md). Names follow the standard with the CK?_
// prefix folded into the namespace; format/ck_names.cpp names them as upstream prints them,
// and tests/unit/test_format_ck_names.cpp checks every one against pkcs11.h.
namespace ptool::ck {

// Object classes (CKO_*)
inline constexpr uint64_t k_o_data = 0, k_o_certificate = 1, k_o_public_key = 2,
                          k_o_private_key = 3, k_o_secret_key = 4;
// Key types (CKK_*)
inline constexpr uint64_t k_k_rsa = 0, k_k_ec = 3, k_k_generic_secret = 0x10, k_k_aes = 0x1f,
                          k_k_sha_1_hmac = 0x28, k_k_sha256_hmac = 0x2b, k_k_sha384_hmac = 0x2c,
                          k_k_sha512_hmac = 0x2d;
// Attributes (CKA_*)
inline constexpr uint64_t k_class = 0x0, k_token = 0x1, k_private = 0x2, k_label = 0x3,
                          k_value = 0x11, k_certificate_type = 0x80, k_issuer = 0x81,
                          k_serial_number = 0x82, k_trusted = 0x86, k_certificate_category = 0x87,
                          k_java_midp_security_domain = 0x88, k_url = 0x89, k_check_value = 0x90,
                          k_hash_of_subject_public_key = 0x8a, k_hash_of_issuer_public_key = 0x8b,
                          k_name_hash_algorithm = 0x8c, k_key_type = 0x100, k_subject = 0x101,
                          k_id = 0x102, k_sensitive = 0x103, k_encrypt = 0x104, k_decrypt = 0x105,
                          k_wrap = 0x106, k_unwrap = 0x107, k_sign = 0x108, k_sign_recover = 0x109,
                          k_verify = 0x10a, k_verify_recover = 0x10b, k_derive = 0x10c,
                          k_start_date = 0x110, k_end_date = 0x111, k_modulus = 0x120,
                          k_modulus_bits = 0x121, k_public_exponent = 0x122,
                          k_public_key_info = 0x129, k_value_len = 0x161, k_extractable = 0x162,
                          k_local = 0x163, k_never_extractable = 0x164, k_always_sensitive = 0x165,
                          k_key_gen_mechanism = 0x166, k_modifiable = 0x170, k_copyable = 0x171,
                          k_destroyable = 0x172, k_ec_params = 0x180, k_ec_point = 0x181,
                          k_always_authenticate = 0x202, k_wrap_with_trusted = 0x210,
                          k_wrap_template = 0x40000211, k_unwrap_template = 0x40000212,
                          k_allowed_mechanisms = 0x40000600, k_vendor_defined = 0x80000000;
// tpm2-pkcs11 vendor attributes. k_vendor_tpm2_defined is upstream's CKA_VENDOR_TPM2_DEFINED,
// 0x0f000000 as its pkcs11t.py spells it (the attributes themselves carry the vendor bit).
inline constexpr uint64_t k_vendor_tpm2_defined = 0x0f000000, k_tpm2_objauth_enc = 0x8f000001,
                          k_tpm2_pub_blob = 0x8f000002, k_tpm2_priv_blob = 0x8f000003,
                          k_tpm2_enc_blob = 0x8f000004;
// Mechanisms (CKM_*)
inline constexpr uint64_t k_m_rsa_pkcs_key_pair_gen = 0, k_m_rsa_pkcs = 1, k_m_rsa_x_509 = 3,
                          k_m_sha1_rsa_pkcs = 6, k_m_rsa_pkcs_oaep = 9, k_m_rsa_pkcs_pss = 0xd,
                          k_m_sha1_rsa_pkcs_pss = 0xe, k_m_sha256_rsa_pkcs = 0x40,
                          k_m_sha384_rsa_pkcs = 0x41, k_m_sha512_rsa_pkcs = 0x42,
                          k_m_sha256_rsa_pkcs_pss = 0x43, k_m_sha384_rsa_pkcs_pss = 0x44,
                          k_m_sha512_rsa_pkcs_pss = 0x45, k_m_sha_1 = 0x220, k_m_sha_1_hmac = 0x221,
                          k_m_sha256_hmac = 0x251, k_m_sha384_hmac = 0x261, k_m_sha512_hmac = 0x271,
                          k_m_generic_secret_key_gen = 0x350, k_m_ec_key_pair_gen = 0x1040,
                          k_m_ecdsa = 0x1041, k_m_ecdsa_sha1 = 0x1042, k_m_ecdsa_sha256 = 0x1044,
                          k_m_ecdsa_sha384 = 0x1045, k_m_ecdsa_sha512 = 0x1046,
                          k_m_aes_key_gen = 0x1080, k_m_aes_ecb = 0x1081, k_m_aes_cbc = 0x1082,
                          k_m_aes_cbc_pad = 0x1085, k_m_aes_ctr = 0x1086, k_m_aes_ofb = 0x2104,
                          k_m_aes_cfb128 = 0x2107;

} // namespace ptool::ck
