// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <tss2/tss2_esys.h>

#include "core/error.hpp"

namespace ptool::tpm {

// True when the TCTI string reaches the TPM without a resource manager: swtpm:, mssim:, or
// device: on /dev/tpmN (the kernel's default, /dev/tpm0, when no path is given). Only one
// client holds such a TPM, so loaded objects and sessions that we did not load belong to
// processes that died. tabrmd, /dev/tpmrmN, the default probing (nullopt) and anything
// unknown count as resource-managed: nothing is ever flushed there.
bool is_direct_tcti(const std::optional<std::string>& tcti);

// Loaded transient objects (0x80xxxxxx) and loaded sessions (0x02xxxxxx/0x03xxxxxx) of the
// TPM; saved sessions and persistent objects are not counted.
struct LoadedHandles
{
  size_t objects = 0;
  size_t sessions = 0;
  size_t total() const { return objects + sessions; }
};
LoadedHandles count_loaded(ESYS_CONTEXT* ctx);

// Flushes every loaded transient object and loaded session (TPM2_FlushContext); never a
// saved session or a persistent handle. Returns how many were flushed. The caller must hold
// none of them itself, and must only call this on a direct TCTI.
LoadedHandles flush_loaded(ESYS_CONTEXT* ctx);

// "freed 3 transient objects and 2 loaded sessions left in the TPM by killed processes".
std::string describe_flushed(const LoadedHandles& h);

// Runs `run`. When it fails because the TPM is out of object or session memory
// (is_tpm_full) and `tcti()` is a direct TCTI: calls `release` (drop every handle the caller
// holds), flushes what is loaded in a fresh context, tells `say` in one line, and runs `run`
// once more. Anything else, and a second failure, propagates unchanged.
void retry_when_full(const std::function<void()>& run,
                     const std::function<std::optional<std::string>()>& tcti,
                     const std::function<void()>& release,
                     const std::function<void(const std::string&)>& say);

} // namespace ptool::tpm
