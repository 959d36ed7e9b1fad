// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/model.hpp"

namespace ptool::keys {

// The OpenSSH public-key line ("ssh-rsa AAAA… comment") of an RSA or EC object, built from
// its store attributes exactly as `ssh-keygen -D` prints it: comment = the CKA_LABEL text
// (printable_comment),
// no trailing space when the label is empty. nullopt for objects OpenSSH cannot use (AES,
// HMAC, P-224).
std::optional<std::string> openssh_public_line(const AttrMap& attrs);

// A label made safe to print as an OpenSSH comment or in any text a user pastes or appends
// (authorized_keys, ssh_config, a terminal): every control character (C0 including newline,
// CR and ESC, DEL, C1) and every byte that is not part of well-formed UTF-8 becomes one '?'.
// Other text, including non-ASCII UTF-8, is kept as it is.
std::string printable_comment(std::string_view label);

// The SHA256 fingerprint of a key blob as `ssh-keygen -l` prints it ("SHA256:…").
std::string openssh_fingerprint(const std::string& public_line);
// The raw SHA-256 of the key blob behind that fingerprint (the input of the randomart).
Bytes openssh_fingerprint_digest(const std::string& public_line);

// Base64 (standard alphabet, padded).
std::string base64(std::span<const uint8_t> data);

} // namespace ptool::keys
