// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tss2/tss2_tpm2_types.h>

namespace ptool::tpm {

enum class KeyKind { k_rsa, k_ecc, k_aes, k_hmac };

// One value of addkey --algorithm.
struct KeyAlgorithm
{
  std::string name; // as given on the command line, e.g. "ecc256", "hmac:sha256"
  KeyKind kind;
  uint16_t bits = 0; // RSA modulus / AES key bits / ECC field bits
  TPM2_ECC_CURVE curve = TPM2_ECC_NONE;
  TPM2_ALG_ID hash = TPM2_ALG_NULL; // HMAC hash
};

// The --algorithm values upstream's addkey accepts, in its order.
const std::vector<std::string>& algorithm_names();
std::optional<KeyAlgorithm> parse_algorithm(std::string_view name);

// tpm2-tools' default `tpm2_create -G <alg>` template (docs/store-format.md §5.2).
TPM2B_PUBLIC key_template(const KeyAlgorithm& alg);

// tpm2-tools' `tpm2_create -i -` sealing template (KEYEDHASH, fixedTPM|fixedParent|userWithAuth).
TPM2B_PUBLIC seal_template();

// The three transient-primary templates upstream knows (docs/store-format.md §4.1), bit-identical
// to the library's; nullopt for an unknown name.
std::optional<TPM2B_PUBLIC> primary_template(std::string_view name);
const std::vector<std::string>& primary_template_names();

// ECC P-256 storage key created in the NULL hierarchy only to salt a session when no
// persistent key exists yet (init with secrets). Cheap and leaves nothing behind.
TPM2B_PUBLIC salt_key_template();

} // namespace ptool::tpm
