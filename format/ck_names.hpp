// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <optional>
#include <string>

// PKCS#11 names as upstream's tpm2_ptool prints and accepts them (its pkcs11t.py table), for
// the numbers of core/keys/pkcs11_ids.hpp.
namespace ptool::format {

// "CKO_PRIVATE_KEY", or "0x<HEX>" for numbers upstream has no name for.
std::string cko_name(uint64_t v);
std::string ckk_name(uint64_t v);
// "CKA_LABEL" for 3; nullopt for numbers without a name.
std::optional<std::string> cka_name(uint64_t v);
// 3 for "CKA_LABEL"; nullopt for unknown names.
std::optional<uint64_t> cka_by_name(const std::string& name);

} // namespace ptool::format
