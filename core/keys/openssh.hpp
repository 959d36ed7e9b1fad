// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>

#include "core/model.hpp"

namespace ptool::keys {

// The OpenSSH public-key line ("ssh-rsa AAAA… comment") of an RSA or EC object, built from
// its store attributes exactly as `ssh-keygen -D` prints it: comment = the CKA_LABEL text,
// no trailing space when the label is empty. nullopt for objects OpenSSH cannot use (AES,
// HMAC, P-224).
std::optional<std::string> openssh_public_line(const AttrMap& attrs);

// The SHA256 fingerprint of a key blob as `ssh-keygen -l` prints it ("SHA256:…").
std::string openssh_fingerprint(const std::string& public_line);
// The raw SHA-256 of the key blob behind that fingerprint (the input of the randomart).
Bytes openssh_fingerprint_digest(const std::string& public_line);

// Base64 (standard alphabet, padded).
std::string base64(std::span<const uint8_t> data);

} // namespace ptool::keys
