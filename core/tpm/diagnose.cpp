// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/diagnose.hpp"

#include <cstdio>
#include <map>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::tpm {

namespace {

// All properties from `first` on, across as many GetCapability calls as the TPM needs.
std::map<TPM2_PT, uint32_t>
properties_from(ESYS_CONTEXT* ctx, TPM2_PT first, TPM2_PT last)
{
  std::map<TPM2_PT, uint32_t> out;
  TPM2_PT next = first;
  TPMI_YES_NO more = TPM2_YES;
  while (more == TPM2_YES && next <= last) {
    TPMS_CAPABILITY_DATA* raw = nullptr;
    check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                TPM2_CAP_TPM_PROPERTIES, next, TPM2_MAX_TPM_PROPERTIES, &more,
                                &raw),
             "TPM2_GetCapability(properties)");
    EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
    const auto& list = data->data.tpmProperties;
    if (list.count == 0) {
      break;
    }
    for (UINT32 i = 0; i < list.count; ++i) {
      out[list.tpmProperty[i].property] = list.tpmProperty[i].value;
    }
    next = list.tpmProperty[list.count - 1].property + 1;
  }
  return out;
}

std::string
four_chars(uint32_t v)
{
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((v >> shift) & 0xff);
    if (c != '\0') {
      s += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
  }
  return s;
}

// A public area with the TPM-chosen unique value removed, so templates compare equal.
Bytes
without_unique(TPM2B_PUBLIC pub)
{
  pub.publicArea.unique = TPMU_PUBLIC_ID{};
  return marshal_public(pub);
}

} // namespace

TpmProperties
read_properties(ESYS_CONTEXT* ctx)
{
  auto fixed = properties_from(ctx, TPM2_PT_FIXED, TPM2_PT_FIXED + 0xff);
  auto var = properties_from(ctx, TPM2_PT_VAR, TPM2_PT_VAR + 0xff);
  TpmProperties p;
  p.manufacturer = four_chars(fixed[TPM2_PT_MANUFACTURER]);
  for (TPM2_PT pt : {TPM2_PT_VENDOR_STRING_1, TPM2_PT_VENDOR_STRING_2, TPM2_PT_VENDOR_STRING_3,
                     TPM2_PT_VENDOR_STRING_4}) {
    p.vendor += four_chars(fixed[pt]);
  }
  p.firmware1 = fixed[TPM2_PT_FIRMWARE_VERSION_1];
  p.firmware2 = fixed[TPM2_PT_FIRMWARE_VERSION_2];
  p.revision = fixed[TPM2_PT_REVISION];
  p.lockout_counter = var[TPM2_PT_LOCKOUT_COUNTER];
  p.max_auth_fail = var[TPM2_PT_MAX_AUTH_FAIL];
  p.lockout_interval = var[TPM2_PT_LOCKOUT_INTERVAL];
  p.lockout_recovery = var[TPM2_PT_LOCKOUT_RECOVERY];
  p.in_lockout = (var[TPM2_PT_PERMANENT] & TPMA_PERMANENT_INLOCKOUT) != 0;
  return p;
}

std::string
lockout_note(ESYS_CONTEXT* ctx)
{
  TpmProperties p;
  try {
    p = read_properties(ctx);
  } catch (const Error&) {
    return {};
  }
  const std::string interval = std::to_string(p.lockout_interval) + " s";
  if (p.in_lockout || (p.max_auth_fail > 0 && p.lockout_counter >= p.max_auth_fail)) {
    return "the TPM is locked out after " + std::to_string(p.lockout_counter)
           + " failures: the next try is possible within " + interval
           + " (one failure is forgotten every " + interval + ")";
  }
  if (p.max_auth_fail == 0) {
    return {};
  }
  uint32_t left = p.max_auth_fail - p.lockout_counter;
  return std::to_string(left) + " of " + std::to_string(p.max_auth_fail)
         + " tries left before the TPM locks out (one failure is forgotten every " + interval + ")";
}

std::string
firmware_text(const TpmProperties& p)
{
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p.firmware1 >> 16, p.firmware1 & 0xffff,
                p.firmware2 >> 16, p.firmware2 & 0xffff);
  return buf;
}

bool
supports(ESYS_CONTEXT* ctx, const KeyAlgorithm& alg)
{
  TPM2B_PUBLIC tmpl = key_template(alg);
  TPMT_PUBLIC_PARMS parms{};
  parms.type = tmpl.publicArea.type;
  parms.parameters = tmpl.publicArea.parameters;
  TSS2_RC rc = Esys_TestParms(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms);
  if (rc == TSS2_RC_SUCCESS) {
    return true;
  }
  if (is_unsupported_parameter(rc)) {
    return false;
  }
  check_rc(rc, "TPM2_TestParms");
  return false;
}

std::optional<std::string>
matching_primary_template(ESYS_CONTEXT* ctx, TPM2_HANDLE handle)
{
  ESYS_TR tr = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr)
      != TSS2_RC_SUCCESS) {
    return std::nullopt;
  }
  TpmObject obj(ctx, tr, TpmObject::Drop::k_close);
  TPM2B_PUBLIC* raw = nullptr;
  if (Esys_ReadPublic(ctx, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw, nullptr, nullptr)
      != TSS2_RC_SUCCESS) {
    return std::nullopt;
  }
  EsysPtr<TPM2B_PUBLIC> pub(raw);
  Bytes have = without_unique(*pub);
  for (const std::string& name : primary_template_names()) {
    auto tmpl = primary_template(name);
    if (tmpl && without_unique(*tmpl) == have) {
      return name;
    }
  }
  return std::nullopt;
}

} // namespace ptool::tpm
