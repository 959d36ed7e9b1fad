// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>

#include "core/hex.hpp"
#include "core/secure_bytes.hpp"
#include "core/tpm/esys.hpp"

// Secret-key operations with a loaded TPM key whose auth is already set (set_auth),
// authorized through `session` (the token's salted HMAC session) with the data encrypted
// on the bus.
namespace ptool::tpm {

// Bytes one TPM2_EncryptDecrypt / TPM2_HMAC / TPM2_SequenceUpdate carries (TPM2B_MAX_BUFFER;
// 1024 on swtpm and most TPMs), a multiple of the AES block size.
inline constexpr size_t k_max_buffer = sizeof(TPM2B_MAX_BUFFER::buffer) / 16 * 16;

// AES in `mode` (TPM2_ALG_CBC, CFB, ECB, CTR) over `in`, in as many TPM2_EncryptDecrypt2
// commands as k_max_buffer needs (TPM2_EncryptDecrypt where the TPM lacks the 2 variant).
// `iv` (16 bytes; ignored for ECB) is updated to the chaining value for the data that follows.
SecureBytes aes_crypt(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, bool decrypt,
                      TPM2_ALG_ID mode, Bytes& iv, std::span<const uint8_t> in);

// HMAC of `data` with an HMAC key: TPM2_HMAC, or HMAC_Start / SequenceUpdate /
// SequenceComplete when `data` is longer than one command carries.
Bytes hmac(ESYS_CONTEXT* ctx, ESYS_TR key, Session& session, TPM2_ALG_ID hash,
           std::span<const uint8_t> data);

} // namespace ptool::tpm
