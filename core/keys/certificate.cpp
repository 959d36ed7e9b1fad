// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/certificate.hpp"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::keys {

namespace {

using X509Ptr = CHandle<X509, X509_free>;

// i2d_* into a Bytes buffer; `what` names the field in errors.
template<typename T, typename Fn>
Bytes
der(const T* obj, Fn i2d, const char* what)
{
  int n = i2d(obj, nullptr);
  if (n <= 0) {
    throw Error(ExitCode::k_usage, std::string("cannot encode the certificate's ") + what);
  }
  Bytes out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  i2d(obj, &p);
  return out;
}

} // namespace

AttrMap
certificate_attrs(std::span<const uint8_t> pem, const std::string& source, const Bytes& id,
                  const Bytes& label)
{
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    throw Error(ExitCode::k_usage, source + " is not a PEM X.509 certificate",
                "convert a DER certificate with 'openssl x509 -inform DER -in F -out F.pem'");
  }
  Bytes value = der(cert.get(), i2d_X509, "encoding");
  Bytes subject = der(X509_get_subject_name(cert.get()), i2d_X509_NAME, "subject");
  Bytes issuer = der(X509_get_issuer_name(cert.get()), i2d_X509_NAME, "issuer");
  Bytes serial = der(X509_get_serialNumber(cert.get()), i2d_ASN1_INTEGER, "serial number");
  uint8_t sha1[SHA_DIGEST_LENGTH];
  SHA1(value.data(), value.size(), sha1);

  AttrMap a;
  a[ck::k_class] = AttrValue::integer(ck::k_o_certificate);
  a[ck::k_token] = AttrValue::boolean(true);
  a[ck::k_private] = AttrValue::boolean(false);
  a[ck::k_label] = AttrValue::data(label);
  a[ck::k_value] = AttrValue::data(std::move(value));
  a[ck::k_certificate_type] = AttrValue::integer(0); // CKC_X_509
  a[ck::k_issuer] = AttrValue::data(std::move(issuer));
  a[ck::k_serial_number] = AttrValue::data(std::move(serial));
  a[ck::k_trusted] = AttrValue::boolean(false);
  a[ck::k_certificate_category] = AttrValue::integer(0);
  a[ck::k_java_midp_security_domain] = AttrValue::integer(0);
  a[ck::k_url] = AttrValue::data({});
  a[ck::k_hash_of_subject_public_key] = AttrValue::data({});
  a[ck::k_hash_of_issuer_public_key] = AttrValue::data({});
  a[ck::k_name_hash_algorithm] = AttrValue::integer(ck::k_m_sha_1);
  // CKA_CHECK_VALUE of a certificate: the first 3 bytes of SHA-1 over its DER encoding.
  a[ck::k_check_value] = AttrValue::data(Bytes(sha1, sha1 + 3));
  a[ck::k_subject] = AttrValue::data(std::move(subject));
  a[ck::k_id] = AttrValue::data(id);
  a[ck::k_start_date] = AttrValue::data({});
  a[ck::k_end_date] = AttrValue::data({});
  a[ck::k_public_key_info] = AttrValue::data({});
  a[ck::k_modifiable] = AttrValue::boolean(false);
  a[ck::k_copyable] = AttrValue::boolean(false);
  a[ck::k_destroyable] = AttrValue::boolean(true);
  return a;
}

} // namespace ptool::keys
