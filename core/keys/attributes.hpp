// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tss2/tss2_tpm2_types.h>

#include "core/model.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::keys {

// What the store needs besides the TPM's answer to build a key's PKCS#11 objects.
struct KeyObjectInput
{
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  Bytes id;                 // CKA_ID bytes (upstream: the --id text)
  std::string label;        // CKA_LABEL text (may be empty)
  std::string wrapped_auth; // CKA_TPM2_OBJAUTH_ENC text: iv:tag:ct
  bool always_authenticate = false;
};

// What addkey, import and link take from their options: CKA_ID is the --id text (as
// upstream stores it), else 16 random hex characters; CKA_LABEL the --key-label text or
// empty; CKA_ALWAYS_AUTHENTICATE.
void set_identity(KeyObjectInput& in, const std::optional<std::string>& id,
                  const std::optional<std::string>& label, bool always_authenticate);

// The PKCS#11 attribute sets upstream tpm2_ptool 1.9.0 writes for a TPM key (docs/store-format.md
// §5.3/§5.4): private (or secret) object first, then the public object for RSA/EC keys.
// Throws Error for a key type or scheme the store cannot represent.
std::vector<AttrMap> key_objects(const KeyObjectInput& in, const tpm::AlgorithmSet& algs);

// import --algorithm hmac[:HASH]: the hash the imported keyed-hash key is bound to,
// TPM2_ALG_NULL for plain "hmac" (a generic secret). Throws Error(k_usage) for anything else.
TPM2_ALG_ID hmac_import_hash(std::string_view alg);
// Upstream's generic secret (import --algorithm hmac): the attribute set of a NULL-scheme
// keyed hash of `key_len` bytes that can HMAC with any hash the TPM has
// (CKK_GENERIC_SECRET, CKA_VALUE_LEN, CKA_ALLOWED_MECHANISMS from `algs`).
std::vector<AttrMap> generic_secret_objects(KeyObjectInput in, const tpm::AlgorithmSet& algs,
                                            size_t key_len);

// Helpers to read attributes back; nullopt when absent or of another kind.
std::optional<uint64_t> attr_int(const AttrMap& attrs, uint64_t type);
const Bytes* attr_bytes(const AttrMap& attrs, uint64_t type);
std::optional<bool> attr_bool(const AttrMap& attrs, uint64_t type);

} // namespace ptool::keys
