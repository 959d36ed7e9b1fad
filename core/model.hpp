// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"

// Plain model types shared by store/ (which reads and writes them) and core/ (which acts on
// them). No SQLite, ESAPI or PKCS#11 types appear here.
namespace ptool {

// One PKCS#11 attribute value as the store keeps it (docs/store-format.md §2.4): CK_ULONG,
// CK_BBOOL, a byte array, or a list of CK_ULONG (CKA_ALLOWED_MECHANISMS, templates).
struct AttrValue
{
  enum class Kind { k_int, k_bool, k_bytes, k_seq };
  Kind kind = Kind::k_bytes;
  uint64_t num = 0;
  bool flag = false;
  Bytes bytes;
  std::vector<uint64_t> seq;

  static AttrValue integer(uint64_t v) { return {Kind::k_int, v, false, {}, {}}; }
  static AttrValue boolean(bool v) { return {Kind::k_bool, 0, v, {}, {}}; }
  static AttrValue data(Bytes v) { return {Kind::k_bytes, 0, false, std::move(v), {}}; }
  static AttrValue list(std::vector<uint64_t> v)
  {
    return {Kind::k_seq, 0, false, {}, std::move(v)};
  }
  bool operator==(const AttrValue&) const = default;
};
// CKA number -> value, kept sorted by number (the order upstream's tool writes).
using AttrMap = std::map<uint64_t, AttrValue>;

// pobjects row.
struct Primary
{
  int64_t id = 0;
  std::string hierarchy = "o";
  bool transient = false;
  std::string template_name; // transient only
  Bytes esys_tr;             // persistent only: serialized ESYS_TR
  SecureBytes objauth;       // the primary's auth, used byte for byte
};

// tokens.config
struct TokenConfig
{
  bool token_init = true;
  std::optional<bool> pss_sigs_good;
  bool empty_user_pin = false;
  std::optional<std::string> tcti;
};

// tokens row.
struct Token
{
  int64_t id = 0;
  int64_t pid = 0;
  std::optional<std::string> label;
  TokenConfig config;
};

// One seal object (SO or USER) of a token: marshalled TPM2B blobs and the PIN salt text.
struct SealBlobs
{
  Bytes pub;
  Bytes priv;
  std::string salt;
};

// sealobjects row.
struct SealObject
{
  int64_t id = 0;
  int64_t tokid = 0;
  std::optional<SealBlobs> user; // NULL until C_InitPIN for library-made tokens
  SealBlobs so;
};

// tobjects row.
struct Object
{
  int64_t id = 0;
  int64_t tokid = 0;
  AttrMap attrs;
};

} // namespace ptool
