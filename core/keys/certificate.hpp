// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <span>
#include <string>

#include "core/model.hpp"

namespace ptool::keys {

// The PKCS#11 certificate object upstream's addcert stores for an X.509 certificate
// (docs/store-format.md §5.4 "Certificates"), from the first certificate in PEM text. CKA_LABEL and
// CKA_ID are the associated key's, passed in. Throws Error(k_usage) when `pem` holds no
// parseable certificate; `source` names it in the message.
AttrMap certificate_attrs(std::span<const uint8_t> pem, const std::string& source, const Bytes& id,
                          const Bytes& label);

} // namespace ptool::keys
