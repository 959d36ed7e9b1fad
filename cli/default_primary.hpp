// SPDX-License-Identifier: BSD-2-Clause
// The primary a plain `init` (and `ssh-keygen` on an empty store) hangs tokens under: now in
// core/tpm/default_primary.hpp, shared with the PKCS#11 module's C_InitToken.
#pragma once

#include "core/tpm/default_primary.hpp"

namespace ptool::cli {

using tpm::default_primary;
using tpm::DefaultPrimary;
using tpm::k_default_primary_handle;

} // namespace ptool::cli
