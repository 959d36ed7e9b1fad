// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/hex.hpp"
#include "core/model.hpp"

namespace ptool::keys {

// A "TSS2 PRIVATE KEY" (draft-bottomley-tpm2-keys, loadable key, OID 2.23.133.10.1.3) as
// tpm2-openssl and tpm2-tss-engine read and write it.
struct Tss2Key
{
  bool empty_auth = false;
  uint32_t parent = 0; // TPM handle of the parent: persistent, or 0x40000001 (owner)
  Bytes pub;           // marshalled TPM2B_PUBLIC
  Bytes priv;          // marshalled TPM2B_PRIVATE
};

inline constexpr uint32_t k_tss2_owner_parent = 0x40000001;

// The parent a TSS2 PRIVATE KEY under `primary` names: the persistent primary's handle (from
// its serialized ESYS_TR), or 0x40000001 for a transient primary, which tpm2-openssl
// re-creates in the owner hierarchy.
uint32_t tss2_parent(const Primary& primary);

std::string encode_tss2_pem(const Tss2Key& key);

// True when `text` holds a "-----BEGIN TSS2 PRIVATE KEY-----" block.
bool is_tss2_pem(std::string_view text);
// Parses a TSS2 PRIVATE KEY PEM. Throws Error(k_usage) naming what is wrong, e.g. importable
// keys (with a secret) or keys bound to policies, which the store cannot represent.
Tss2Key decode_tss2_pem(std::string_view text);

} // namespace ptool::keys
