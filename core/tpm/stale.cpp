// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/stale.hpp"

#include <vector>

#include "core/c_handles.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::tpm {

namespace {

// The handles from `first` up to the end of its range (first | 0x00ffffff).
std::vector<TPM2_HANDLE>
handles_in(ESYS_CONTEXT* ctx, TPM2_HANDLE first)
{
  std::vector<TPM2_HANDLE> out;
  const TPM2_HANDLE last = first | 0x00ffffff;
  TPM2_HANDLE next = first;
  TPMI_YES_NO more = TPM2_YES;
  while (more == TPM2_YES) {
    TPMS_CAPABILITY_DATA* raw = nullptr;
    check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                next, TPM2_MAX_CAP_HANDLES, &more, &raw),
             "TPM2_GetCapability(handles)");
    EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
    const auto& list = data->data.handles;
    for (UINT32 i = 0; i < list.count; ++i) {
      if (list.handle[i] >= first && list.handle[i] <= last) {
        out.push_back(list.handle[i]);
      }
    }
    if (list.count == 0 || list.handle[list.count - 1] >= last) {
      break;
    }
    next = list.handle[list.count - 1] + 1;
  }
  return out;
}

// TPM2_HT_LOADED_SESSION lists loaded HMAC and policy sessions (0x02…, 0x03…); a handle of
// TPM2_HT_SAVED_SESSION's range only appears under that capability, never here.
std::vector<TPM2_HANDLE>
loaded_sessions(ESYS_CONTEXT* ctx)
{
  return handles_in(ctx, TPM2_LOADED_SESSION_FIRST);
}

std::vector<TPM2_HANDLE>
transient_objects(ESYS_CONTEXT* ctx)
{
  return handles_in(ctx, TPM2_TRANSIENT_FIRST);
}

bool
flush_handle(ESYS_CONTEXT* ctx, TPM2_HANDLE handle)
{
  ESYS_TR tr = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr)
      != TSS2_RC_SUCCESS) {
    return false;
  }
  if (Esys_FlushContext(ctx, tr) != TSS2_RC_SUCCESS) {
    Esys_TR_Close(ctx, &tr);
    return false;
  }
  return true;
}

std::string
plural(size_t n, const char* one, const char* many)
{
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

} // namespace

bool
is_direct_tcti(const std::optional<std::string>& tcti)
{
  if (!tcti) {
    return false;
  }
  std::string name = tcti->substr(0, tcti->find(':'));
  std::string conf = tcti->find(':') == std::string::npos ? "" : tcti->substr(tcti->find(':') + 1);
  // tctildr also takes library names: libtss2-tcti-swtpm.so.0, tss2-tcti-device, …
  for (const char* prefix : {"libtss2-tcti-", "tss2-tcti-"}) {
    if (name.rfind(prefix, 0) == 0) {
      name.erase(0, std::string(prefix).size());
      break;
    }
  }
  if (auto so = name.find(".so"); so != std::string::npos) {
    name.erase(so);
  }
  if (name == "swtpm" || name == "mssim") {
    return true;
  }
  if (name != "device") {
    return false;
  }
  if (conf.empty()) {
    return true; // the device TCTI's default is /dev/tpm0
  }
  const std::string dev = "/dev/tpm";
  if (conf.rfind(dev, 0) != 0 || conf.size() == dev.size()) {
    return false;
  }
  for (size_t i = dev.size(); i < conf.size(); ++i) {
    if (conf[i] < '0' || conf[i] > '9') {
      return false; // /dev/tpmrm0 and anything else
    }
  }
  return true;
}

LoadedHandles
count_loaded(ESYS_CONTEXT* ctx)
{
  return LoadedHandles{transient_objects(ctx).size(), loaded_sessions(ctx).size()};
}

LoadedHandles
flush_loaded(ESYS_CONTEXT* ctx)
{
  LoadedHandles done;
  for (TPM2_HANDLE h : transient_objects(ctx)) {
    done.objects += flush_handle(ctx, h) ? 1 : 0;
  }
  for (TPM2_HANDLE h : loaded_sessions(ctx)) {
    done.sessions += flush_handle(ctx, h) ? 1 : 0;
  }
  return done;
}

std::string
describe_flushed(const LoadedHandles& h)
{
  return "freed " + plural(h.objects, "transient object", "transient objects") + " and "
         + plural(h.sessions, "loaded session", "loaded sessions")
         + " left in the TPM by killed processes (no resource manager on this TCTI)";
}

void
retry_when_full(const std::function<void()>& run,
                const std::function<std::optional<std::string>()>& tcti,
                const std::function<void()>& release,
                const std::function<void(const std::string&)>& say)
{
  try {
    run();
    return;
  } catch (const Error& e) {
    if (!is_tpm_full(e)) {
      throw;
    }
    std::optional<std::string> t = tcti();
    if (!is_direct_tcti(t)) {
      throw;
    }
    release();
    LoadedHandles freed;
    try {
      EsysContext ctx(t);
      freed = flush_loaded(ctx.get());
    } catch (const Error&) {
      throw e; // cannot even look: report the original failure
    }
    if (freed.total() == 0) {
      throw;
    }
    say(describe_flushed(freed));
  }
  run();
}

} // namespace ptool::tpm
