// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <string>

#include "core/model.hpp"

namespace ptool::keys {

// What `ssh-keygen -l` prints for the key of a public-key object:
// "<bits> SHA256:<fingerprint> <comment or 'no comment'> (<RSA|ECDSA>)". nullopt for objects
// OpenSSH cannot use.
std::optional<std::string> openssh_fingerprint_line(const AttrMap& attrs);

// The randomart ("visual host key") `ssh-keygen -lv` prints below that line: nine rows of
// the SHA-256 walk framed by "+---[ECDSA 256]---+" and "+----[SHA256]-----+", no final
// newline. nullopt for objects OpenSSH cannot use.
std::optional<std::string> openssh_randomart(const AttrMap& attrs);

} // namespace ptool::keys
