// SPDX-License-Identifier: BSD-2-Clause
// The module's attribute templates: C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal and
// C_GetAttributeValue through the module's own functions (pkcs11/objects.cpp), against a real
// store holding upstream-written objects in two tokens (one needing a login, one with an
// empty user PIN). The input becomes a CK_ATTRIBUTE array whose value buffers are heap
// blocks of exactly the declared length, so any write past them is an ASan report. No TPM is
// involved: none of these calls reaches it.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/keys/pkcs11_ids.hpp"
#include "pkcs11/api.hpp"
#include "store/attr_yaml.hpp"
#include "store/store.hpp"
#include "tests/fuzz/fuzz_common.hpp"
#include "tests/unit/unit_helpers.hpp"

using namespace ptool;
using namespace ptool::p11;

namespace {

namespace fs = std::filesystem;

// Attribute types the objects actually have (and a few they do not), so short inputs hit
// real values; a selector past the table takes the next four input bytes as the type.
constexpr CK_ATTRIBUTE_TYPE k_types[] = {
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_ID,
  CKA_TOKEN,
  CKA_PRIVATE,
  CKA_SIGN,
  CKA_VERIFY,
  CKA_DECRYPT,
  CKA_ENCRYPT,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_VALUE,
  CKA_SENSITIVE,
  CKA_EXTRACTABLE,
  CKA_ALLOWED_MECHANISMS,
  CKA_WRAP_TEMPLATE,
  CKA_UNWRAP_TEMPLATE,
  CKA_SUBJECT,
  CKA_PRIME_1,
  CKA_VALUE_LEN,
  0x8f000001UL,
  0x8f000002UL,
  CKA_CERTIFICATE_TYPE,
  CKA_KEY_GEN_MECHANISM,
};

class Input
{
public:
  Input(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
  bool empty() const { return m_pos >= m_size; }
  uint8_t byte() { return empty() ? 0 : m_data[m_pos++]; }
  CK_ULONG ulong(size_t n)
  {
    CK_ULONG v = 0;
    for (size_t i = 0; i < n; ++i) {
      v = v << 8 | byte();
    }
    return v;
  }
  std::vector<uint8_t> bytes(size_t n)
  {
    std::vector<uint8_t> out;
    while (n-- && !empty()) {
      out.push_back(byte());
    }
    return out;
  }

private:
  const uint8_t* m_data;
  size_t m_size;
  size_t m_pos = 0;
};

// One CK_ATTRIBUTE per record: [selector][length/flags][value...]. Flags (top two bits of
// the length byte): 0x80 pValue NULL, 0x40 with NULL: a huge ulValueLen.
struct Template
{
  std::vector<CK_ATTRIBUTE> attrs;
  std::vector<std::unique_ptr<uint8_t[]>> buffers; // exact-size blocks behind pValue

  static Template parse(Input& in)
  {
    Template t;
    size_t count = in.byte() % 9;
    for (size_t i = 0; i < count && !in.empty(); ++i) {
      uint8_t sel = in.byte();
      CK_ATTRIBUTE a{};
      a.type = sel < std::size(k_types) ? k_types[sel] : in.ulong(4);
      uint8_t len = in.byte();
      size_t n = len & 0x3f;
      if (len & 0x80) {
        a.pValue = nullptr;
        a.ulValueLen = (len & 0x40) ? ~CK_ULONG(0) - n : n;
      } else {
        std::vector<uint8_t> value = in.bytes(n);
        value.resize(n);
        t.buffers.push_back(std::make_unique<uint8_t[]>(n));
        std::copy(value.begin(), value.end(), t.buffers.back().get());
        a.pValue = t.buffers.back().get();
        a.ulValueLen = n;
      }
      t.attrs.push_back(a);
    }
    return t;
  }
  CK_ATTRIBUTE_PTR ptr() { return attrs.empty() ? nullptr : attrs.data(); }
  CK_ULONG count() const { return static_cast<CK_ULONG>(attrs.size()); }
};

// A store with one primary and two tokens holding the objects of tests/data's upstream
// sample (EC private + public, RSA public) and a secret key, opened by the module.
struct Fixture
{
  fs::path dir;
  CK_SESSION_HANDLE sessions[2] = {0, 0};

  Fixture()
  {
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "ptool-fuzz-p11-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      fuzz::finding("mkdtemp failed");
    }
    dir = tmpl;
    std::vector<AttrMap> objects;
    for (int id : {1, 2, 4}) {
      objects.push_back(store::parse_attrs(test::upstream_sample_output(
        "SELECT attrs FROM tobjects WHERE id = " + std::to_string(id))));
    }
    AttrMap secret = objects[0];
    secret[ck::k_class] = AttrValue::integer(ck::k_o_secret_key);
    secret[ck::k_key_type] = AttrValue::integer(ck::k_k_aes);
    secret[ck::k_value] = AttrValue::data({});
    objects.push_back(secret);
    {
      store::Store st = store::Store::open(dir, store::Store::Mode::k_read_write);
      store::Transaction tx(st);
      Primary p;
      p.transient = true;
      p.template_name = "tpm2-tools-default";
      int64_t pid = st.insert_primary(p);
      for (bool empty_pin : {false, true}) {
        Token t;
        t.pid = pid;
        t.label = empty_pin ? "empty-pin" : "pin";
        t.config.empty_user_pin = empty_pin;
        int64_t tokid = st.insert_token(t);
        SealObject seal;
        seal.tokid = tokid;
        seal.so = SealBlobs{{1, 2}, {3, 4}, "00"};
        seal.user = seal.so;
        st.insert_seal_object(seal);
        for (const AttrMap& attrs : objects) {
          st.insert_object(tokid, attrs);
        }
      }
      tx.commit();
    }
    ::setenv("TPM2_PKCS11_STORE", dir.c_str(), 1);
    Module& m = Module::instance();
    m.initialize();
    for (CK_SLOT_ID slot : {1, 2}) {
      if (open_session(m, slot, CKF_SERIAL_SESSION, &sessions[slot - 1]) != CKR_OK) {
        fuzz::finding("cannot open a session on the fixture store");
      }
    }
  }
  ~Fixture()
  {
    Module::instance().finalize();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// The module's own answer for a failure inside: CkError / ptool::Error are answers, any
// other exception escaping these functions is a finding (entry.cpp would hide it as
// CKR_GENERAL_ERROR).
template<typename F>
CK_RV
call(F&& f)
{
  try {
    return f();
  } catch (const CkError& e) {
    return e.rv;
  } catch (const Error&) {
    return CKR_FUNCTION_FAILED;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: unexpected exception: %s\n", e.what());
    std::abort();
  }
}

// GetAttributeValue of the find template on an object the template matched: every attribute
// must come back with the matched value, or be withheld as sensitive.
void
check_found(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, const Template& find)
{
  Template get;
  for (size_t i = 0; i < find.attrs.size(); ++i) {
    CK_ATTRIBUTE a = find.attrs[i];
    CK_ULONG n = a.ulValueLen;
    get.buffers.push_back(std::make_unique<uint8_t[]>(n));
    a.pValue = get.buffers.back().get();
    get.attrs.push_back(a);
  }
  CK_RV rv = call([&] { return get_attribute_value(m, h, obj, get.ptr(), get.count()); });
  fuzz::fuzz_require(rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE,
                     "a found object does not answer the attributes it matched");
  for (size_t i = 0; i < get.attrs.size(); ++i) {
    const CK_ATTRIBUTE& g = get.attrs[i];
    if (g.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
      continue; // sensitive
    }
    fuzz::fuzz_require(
      g.ulValueLen == find.attrs[i].ulValueLen
        && (g.ulValueLen == 0 || std::memcmp(g.pValue, find.attrs[i].pValue, g.ulValueLen) == 0),
      "C_GetAttributeValue differs from what C_FindObjects matched");
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static Fixture fixture;
  Module& m = Module::instance();
  Input in(data, size);
  CK_SESSION_HANDLE h = fixture.sessions[in.byte() & 1];

  // C_FindObjectsInit .. C_FindObjectsFinal with the template.
  Template find = Template::parse(in);
  uint8_t flags = in.byte();
  bool null_template = find.attrs.empty() && (flags & 1);
  CK_RV rv = call([&] {
    return find_objects_init(m, h, null_template ? nullptr : find.ptr(),
                             null_template ? 1 : find.count());
  });
  std::vector<CK_OBJECT_HANDLE> found;
  if (rv == CKR_OK) {
    CK_ULONG max = (flags >> 1) % 4 + 1;
    for (;;) {
      std::vector<CK_OBJECT_HANDLE> out(max);
      CK_ULONG n = 0;
      fuzz::fuzz_require(call([&] { return find_objects(m, h, out.data(), max, &n); }) == CKR_OK,
                         "C_FindObjects failed during a search");
      fuzz::fuzz_require(n <= max, "C_FindObjects returned more handles than asked for");
      if (n == 0) {
        break;
      }
      found.insert(found.end(), out.begin(), out.begin() + static_cast<long>(n));
    }
    fuzz::fuzz_require(call([&] { return find_objects_final(m, h); }) == CKR_OK,
                       "C_FindObjectsFinal failed");
  }
  for (CK_OBJECT_HANDLE obj : found) {
    check_found(m, h, obj, find);
  }

  // C_GetAttributeValue with a second template on a found or arbitrary handle.
  CK_OBJECT_HANDLE obj = in.byte();
  if (!found.empty() && (obj & 0x80)) {
    obj = found[obj % found.size()];
  }
  Template get = Template::parse(in);
  call([&] { return get_attribute_value(m, h, obj, get.ptr(), get.count()); });
  return 0;
}
