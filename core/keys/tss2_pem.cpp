// SPDX-License-Identifier: BSD-2-Clause
// DER by hand: the structure is five fields; a full ASN.1 template would be longer than this.
#include "core/keys/tss2_pem.hpp"

#include <openssl/pem.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/keys/openssh.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::keys {

namespace {

constexpr std::string_view k_pem_name = "TSS2 PRIVATE KEY";
// 2.23.133.10.1.3 (TCG loadable key)
const Bytes k_loadable_oid = {0x67, 0x81, 0x05, 0x0a, 0x01, 0x03};
// 2.23.133.10.1.4 (importable key: needs a TPM2_Import first)
const Bytes k_importable_oid = {0x67, 0x81, 0x05, 0x0a, 0x01, 0x04};

void
put_tlv(Bytes& out, uint8_t tag, std::span<const uint8_t> value)
{
  out.push_back(tag);
  size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes len;
    for (; n; n >>= 8) {
      len.insert(len.begin(), static_cast<uint8_t>(n & 0xff));
    }
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), value.begin(), value.end());
}

[[noreturn]] void
bad(const std::string& what)
{
  throw Error(ExitCode::k_usage, "malformed TSS2 PRIVATE KEY: " + what);
}

// Reads one DER TLV from [pos, end).
struct Reader
{
  std::span<const uint8_t> data;
  size_t pos = 0;

  bool done() const { return pos >= data.size(); }
  uint8_t peek() const { return done() ? 0 : data[pos]; }
  std::span<const uint8_t> read(uint8_t tag, const char* what)
  {
    if (data.size() - pos < 2 || data[pos] != tag) {
      bad(std::string("expected ") + what);
    }
    ++pos;
    size_t len = data[pos++];
    if (len & 0x80) {
      size_t bytes = len & 0x7f;
      if (bytes == 0 || bytes > 4 || data.size() - pos < bytes) {
        bad(std::string("bad length of ") + what);
      }
      len = 0;
      for (size_t i = 0; i < bytes; ++i) {
        len = len << 8 | data[pos++];
      }
    }
    if (data.size() - pos < len) {
      bad(std::string("truncated ") + what);
    }
    auto out = data.subspan(pos, len);
    pos += len;
    return out;
  }
};

} // namespace

uint32_t
tss2_parent(const Primary& primary)
{
  if (primary.transient || primary.esys_tr.size() < 4) {
    return k_tss2_owner_parent;
  }
  return tpm::handle_of_serialized_tr(primary.esys_tr);
}

std::string
encode_tss2_pem(const Tss2Key& key)
{
  Bytes body;
  put_tlv(body, 0x06, k_loadable_oid);
  // Always explicit, as tpm2-openssl writes it: its reader treats a missing emptyAuth as
  // "no password" and would then fail with an auth error instead of asking for one.
  const uint8_t boolean[] = {0x01, 0x01, static_cast<uint8_t>(key.empty_auth ? 0xff : 0x00)};
  put_tlv(body, 0xa0, boolean);
  Bytes parent;
  if (key.parent & 0x80000000U) {
    parent.push_back(0); // keep the INTEGER positive
  }
  for (int shift = 24; shift >= 0; shift -= 8) {
    parent.push_back(static_cast<uint8_t>(key.parent >> shift));
  }
  while (parent.size() > 1 && parent[0] == 0 && !(parent[1] & 0x80)) {
    parent.erase(parent.begin());
  }
  put_tlv(body, 0x02, parent);
  put_tlv(body, 0x04, key.pub);
  put_tlv(body, 0x04, key.priv);
  Bytes der;
  put_tlv(der, 0x30, body);

  std::string b64 = base64(der);
  std::string out = "-----BEGIN TSS2 PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out += b64.substr(i, 64) + "\n";
  }
  return out + "-----END TSS2 PRIVATE KEY-----\n";
}

bool
is_tss2_pem(std::string_view text)
{
  return text.find("-----BEGIN TSS2 PRIVATE KEY-----") != std::string_view::npos;
}

Tss2Key
decode_tss2_pem(std::string_view text)
{
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (!bio || PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    bad("no PEM block");
  }
  std::string pem_name = name;
  OPENSSL_free(name);
  OPENSSL_free(header);
  Bytes der(data, data + len);
  OPENSSL_free(data);
  if (pem_name != k_pem_name) {
    bad("PEM type is '" + pem_name + "'");
  }

  Reader outer{der};
  Reader r{outer.read(0x30, "SEQUENCE")};
  auto oid = r.read(0x06, "type OID");
  if (Bytes(oid.begin(), oid.end()) == k_importable_oid) {
    throw Error(ExitCode::k_usage, "this TSS2 key is an importable key (OID 2.23.133.10.1.4)",
                "only loadable keys (2.23.133.10.1.3) can be linked; import it into a TPM first");
  }
  if (Bytes(oid.begin(), oid.end()) != k_loadable_oid) {
    bad("unknown type OID");
  }
  Tss2Key key;
  if (r.peek() == 0xa0) {
    Reader b{r.read(0xa0, "emptyAuth")};
    auto v = b.read(0x01, "emptyAuth BOOLEAN");
    key.empty_auth = v.size() == 1 && v[0] != 0;
  }
  if (r.peek() == 0xa1 || r.peek() == 0xa2 || r.peek() == 0xa3) {
    throw Error(ExitCode::k_usage, "this TSS2 key carries a policy or secret",
                "keys bound to TPM policies cannot be used through PKCS#11");
  }
  auto parent = r.read(0x02, "parent INTEGER");
  if (parent.empty() || parent.size() > 5 || (parent[0] & 0x80)) {
    bad("parent handle out of range");
  }
  uint64_t handle = 0;
  for (uint8_t b : parent) {
    handle = handle << 8 | b;
  }
  if (handle > 0xffffffffULL) {
    bad("parent handle out of range");
  }
  key.parent = static_cast<uint32_t>(handle);
  auto pub = r.read(0x04, "pubkey OCTET STRING");
  auto priv = r.read(0x04, "privkey OCTET STRING");
  key.pub.assign(pub.begin(), pub.end());
  key.priv.assign(priv.begin(), priv.end());
  return key;
}

} // namespace ptool::keys
