// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/evict.hpp"

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::tpm {

namespace {

bool
is_persistent(ESYS_CONTEXT* ctx, TPM2_HANDLE handle)
{
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* raw = nullptr;
  check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                              handle, 1, &more, &raw),
           "TPM2_GetCapability(handles)");
  EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
  const TPML_HANDLE& list = data->data.handles;
  return list.count > 0 && list.handle[0] == handle;
}

bool
same_name(ESYS_CONTEXT* ctx, ESYS_TR a, ESYS_TR b)
{
  TPM2B_NAME* na = nullptr;
  TPM2B_NAME* nb = nullptr;
  check_rc(Esys_TR_GetName(ctx, a, &na), "Esys_TR_GetName");
  EsysPtr<TPM2B_NAME> pa(na);
  check_rc(Esys_TR_GetName(ctx, b, &nb), "Esys_TR_GetName");
  EsysPtr<TPM2B_NAME> pb(nb);
  return na->size == nb->size && std::memcmp(na->name, nb->name, na->size) == 0;
}

// TPM2_EvictControl of the persistent object `live` (owner hierarchy).
void
evict_live(ESYS_CONTEXT* ctx, TpmObject& live, TPM2_HANDLE handle,
           std::span<const uint8_t> hierarchy_auth)
{
  set_auth(ctx, ESYS_TR_RH_OWNER, hierarchy_auth);
  std::optional<Session> session;
  if (!hierarchy_auth.empty()) {
    // Salted with the primary itself (a restricted decryption key), so the owner auth
    // is proven by HMAC rather than sent as a password.
    session.emplace(ctx, live.get());
    session->use_for(false, false);
    session->last_use();
  }
  ESYS_TR out = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(ctx, ESYS_TR_RH_OWNER, live.get(),
                                 session ? session->get() : ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, handle, &out);
  check_rc(rc, "TPM2_EvictControl", AuthKind::k_hierarchy);
  if (session) {
    session->finished();
  }
  // ESYS invalidated the persistent object's resource on success.
  live.release();
}

} // namespace

EvictResult
evict_persistent(ESYS_CONTEXT* ctx, std::span<const uint8_t> esys_tr,
                 std::span<const uint8_t> hierarchy_auth)
{
  TPM2_HANDLE handle = handle_of_serialized_tr(esys_tr);
  if (!is_persistent(ctx, handle)) {
    return EvictResult::k_not_present;
  }
  // The stored ESYS_TR carries the object's name; the TPM's current object must match.
  TpmObject stored = deserialize_tr(ctx, esys_tr);
  ESYS_TR live_raw = ESYS_TR_NONE;
  check_rc(Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &live_raw),
           "Esys_TR_FromTPMPublic");
  TpmObject live(ctx, live_raw, TpmObject::Drop::k_close);
  if (!same_name(ctx, stored.get(), live.get())) {
    throw Error(ExitCode::k_general,
                "persistent handle " + hex32(handle)
                  + " holds a different key than the one this primary was made with",
                "not evicting it; use --keep-handle to remove only the store rows");
  }

  evict_live(ctx, live, handle, hierarchy_auth);
  return EvictResult::k_evicted;
}

std::string
evict_orphan(ESYS_CONTEXT* ctx, TPM2_HANDLE handle, std::span<const uint8_t> hierarchy_auth)
{
  if (handle < 0x81000000 || handle > 0x81ffffff) {
    throw_usage("handle " + hex32(handle) + " is not a persistent handle",
                "persistent handles are 0x81000000-0x81ffffff (see 'tpm2-ptool doctor')");
  }
  if (!is_persistent(ctx, handle)) {
    throw_not_found("the TPM holds nothing at persistent handle " + hex32(handle));
  }
  // Only objects that are one of our primary templates: anything else is somebody's key.
  std::optional<std::string> tmpl = matching_primary_template(ctx, handle);
  if (!tmpl) {
    throw Error(ExitCode::k_general,
                "persistent handle " + hex32(handle)
                  + " holds an object tpm2-ptool did not make; refusing to evict it",
                "it may be the only copy of somebody's key (unlike a primary, it cannot be "
                "re-created); leave it alone");
  }
  ESYS_TR live_raw = ESYS_TR_NONE;
  check_rc(Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &live_raw),
           "Esys_TR_FromTPMPublic");
  TpmObject live(ctx, live_raw, TpmObject::Drop::k_close);
  evict_live(ctx, live, handle, hierarchy_auth);
  return *tmpl;
}

} // namespace ptool::tpm
