// SPDX-License-Identifier: BSD-2-Clause
// Library, slot, token and mechanism information: from the store only, never the TPM.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "pkcs11/api.hpp"

namespace ptool::p11 {

namespace {

constexpr std::string_view k_manufacturer = "tpm2-ptool";

// PKCS#11 text fields are blank padded, not NUL terminated.
template<size_t N>
void
pad(unsigned char (&field)[N], std::string_view text)
{
  std::memset(field, ' ', N);
  std::memcpy(field, text.data(), std::min(N, text.size()));
}

} // namespace

CK_RV
get_info(CK_INFO_PTR info)
{
  if (!info) {
    return CKR_ARGUMENTS_BAD;
  }
  *info = CK_INFO{};
  info->cryptokiVersion = {2, 40};
  pad(info->manufacturerID, k_manufacturer);
  pad(info->libraryDescription, "TPM2 PKCS#11 module of tpm2-ptool");
  info->libraryVersion = {0, 1};
  return CKR_OK;
}

CK_RV
get_slot_list(Module& m, CK_BBOOL, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
  if (!count) {
    return CKR_ARGUMENTS_BAD;
  }
  // Re-read on every listing so tokens added by tpm2-ptool meanwhile show up. Every slot
  // has its token present (the uninitialized slot too, as upstream), so tokenPresent changes
  // nothing.
  m.refresh_tokens();
  CK_ULONG n = static_cast<CK_ULONG>(m.tokens().size());
  if (!list) {
    *count = n;
    return CKR_OK;
  }
  if (*count < n) {
    *count = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  CK_ULONG i = 0;
  for (const auto& [slot, ts] : m.tokens()) {
    list[i++] = slot;
  }
  *count = n;
  return CKR_OK;
}

CK_RV
get_slot_info(Module& m, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
  if (!info) {
    return CKR_ARGUMENTS_BAD;
  }
  TokenState& ts = m.token(slot);
  *info = CK_SLOT_INFO{};
  pad(info->slotDescription, "tpm2-ptool token " + ts.token.label.value_or(""));
  pad(info->manufacturerID, k_manufacturer);
  info->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
  info->hardwareVersion = {2, 0};
  info->firmwareVersion = {0, 1};
  return CKR_OK;
}

CK_RV
get_token_info(Module& m, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
  if (!info) {
    return CKR_ARGUMENTS_BAD;
  }
  TokenState& ts = m.token(slot);
  *info = CK_TOKEN_INFO{};
  pad(info->label, ts.token.label.value_or(""));
  pad(info->manufacturerID, k_manufacturer);
  pad(info->model, "TPM2 token");
  pad(info->serialNumber, std::to_string(ts.token.id));
  // The uninitialized slot (C_InitToken's): CKF_RNG | CKF_LOGIN_REQUIRED, as upstream.
  info->flags = CKF_RNG;
  if (ts.token.config.token_init) {
    info->flags |= CKF_TOKEN_INITIALIZED;
  }
  if (ts.user_pin_set) {
    info->flags |= CKF_USER_PIN_INITIALIZED;
  }
  if (!ts.token.config.empty_user_pin) {
    info->flags |= CKF_LOGIN_REQUIRED;
  }
  info->ulMaxSessionCount = Module::k_max_sessions;
  info->ulSessionCount = m.session_count(slot, false);
  info->ulMaxRwSessionCount = Module::k_max_sessions;
  info->ulRwSessionCount = m.session_count(slot, true);
  info->ulMaxPinLen = Module::k_max_pin_len;
  info->ulMinPinLen = 0;
  info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->hardwareVersion = {2, 0};
  info->firmwareVersion = {0, 1};
  pad(info->utcTime, "");
  return CKR_OK;
}

CK_RV
get_mechanism_list(Module& m, CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
  if (!count) {
    return CKR_ARGUMENTS_BAD;
  }
  m.token(slot);
  auto all = mechanisms();
  auto n = static_cast<CK_ULONG>(all.size());
  if (!list) {
    *count = n;
    return CKR_OK;
  }
  if (*count < n) {
    *count = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  for (CK_ULONG i = 0; i < n; ++i) {
    list[i] = all[i].type;
  }
  *count = n;
  return CKR_OK;
}

CK_RV
get_mechanism_info(Module& m, CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
  if (!info) {
    return CKR_ARGUMENTS_BAD;
  }
  m.token(slot);
  const Mechanism* mech = find_mechanism(type);
  if (!mech) {
    return CKR_MECHANISM_INVALID;
  }
  info->ulMinKeySize = mech->min_key;
  info->ulMaxKeySize = mech->max_key;
  info->flags = mech->flags;
  return CKR_OK;
}

} // namespace ptool::p11
