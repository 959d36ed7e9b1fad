// SPDX-License-Identifier: BSD-2-Clause
// Typed error reasons: every TPM_RC family check_rc meets gives its Reason, and each Reason
// has one exit code (the CLI) and one CK_RV (the module), whatever the hint text says.
#include <gtest/gtest.h>

#include <tss2/tss2_rc.h>

#include "core/error.hpp"
#include "core/tpm/esys.hpp"
#include "pkcs11/p11.hpp"

namespace ptool {
namespace {

constexpr TSS2_RC k_tpm = TSS2_TPM_RC_LAYER;
constexpr TSS2_RC k_rm_tpm = TSS2_RESMGR_TPM_RC_LAYER;

// What check_rc throws for `rc`.
tpm::TpmError
thrown(TSS2_RC rc, tpm::AuthKind auth = tpm::AuthKind::k_none)
{
  try {
    tpm::check_rc(rc, "TPM2_Test", auth);
  } catch (const tpm::TpmError& e) {
    return e;
  }
  ADD_FAILURE() << "check_rc(" << std::hex << rc << ") did not throw";
  return tpm::TpmError(rc, Reason::k_general, "");
}

struct RcCase
{
  TSS2_RC rc;
  Reason reason;
  ExitCode code;
};

TEST(ReasonOfRc, EachFamilyMapsToItsReason)
{
  const RcCase cases[] = {
    // Wrong auth: format-one codes with a session number, as the TPM sends them.
    {k_tpm | TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1, Reason::k_wrong_auth, ExitCode::k_auth},
    {k_tpm | TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_2, Reason::k_wrong_auth, ExitCode::k_auth},
    {k_rm_tpm | TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1, Reason::k_wrong_auth, ExitCode::k_auth},
    {k_tpm | TPM2_RC_LOCKOUT, Reason::k_lockout, ExitCode::k_auth},
    {k_rm_tpm | TPM2_RC_LOCKOUT, Reason::k_lockout, ExitCode::k_auth},
    // Full: out of object / session memory or handles.
    {k_tpm | TPM2_RC_OBJECT_MEMORY, Reason::k_tpm_full, ExitCode::k_general},
    {k_tpm | TPM2_RC_SESSION_MEMORY, Reason::k_tpm_full, ExitCode::k_general},
    {k_tpm | TPM2_RC_OBJECT_HANDLES, Reason::k_tpm_full, ExitCode::k_general},
    {k_rm_tpm | TPM2_RC_SESSION_HANDLES, Reason::k_tpm_full, ExitCode::k_general},
    // Unsupported: the command, or algorithm parameters (with a parameter number).
    {k_tpm | TPM2_RC_COMMAND_CODE, Reason::k_unsupported, ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_KEY_SIZE | TPM2_RC_P | TPM2_RC_2, Reason::k_unsupported,
     ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_CURVE | TPM2_RC_P | TPM2_RC_1, Reason::k_unsupported, ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_SCHEME | TPM2_RC_P | TPM2_RC_1, Reason::k_unsupported,
     ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_SYMMETRIC | TPM2_RC_P | TPM2_RC_1, Reason::k_unsupported,
     ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_HASH | TPM2_RC_P | TPM2_RC_1, Reason::k_unsupported, ExitCode::k_unsupported},
    {k_tpm | TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_1, Reason::k_unsupported, ExitCode::k_unsupported},
    // Unreachable: transport failures in any TSS layer, and a TPM that was not started.
    {TSS2_TCTI_RC_LAYER | TSS2_BASE_RC_IO_ERROR, Reason::k_unreachable, ExitCode::k_tcti},
    {TSS2_TCTI_RC_LAYER | TSS2_BASE_RC_BAD_REFERENCE, Reason::k_unreachable, ExitCode::k_tcti},
    {TSS2_ESAPI_RC_LAYER | TSS2_BASE_RC_NO_CONNECTION, Reason::k_unreachable, ExitCode::k_tcti},
    {TSS2_SYS_RC_LAYER | TSS2_BASE_RC_IO_ERROR, Reason::k_unreachable, ExitCode::k_tcti},
    {TSS2_RESMGR_RC_LAYER | TSS2_BASE_RC_TRY_AGAIN, Reason::k_unreachable, ExitCode::k_tcti},
    {k_tpm | TPM2_RC_INITIALIZE, Reason::k_unreachable, ExitCode::k_tcti},
    // Everything else is general.
    {k_tpm | TPM2_RC_FAILURE, Reason::k_general, ExitCode::k_general},
    {k_tpm | TPM2_RC_HIERARCHY | TPM2_RC_H | TPM2_RC_1, Reason::k_general, ExitCode::k_general},
    {k_tpm | TPM2_RC_HANDLE | TPM2_RC_H | TPM2_RC_1, Reason::k_general, ExitCode::k_general},
    {TSS2_ESAPI_RC_LAYER | TSS2_BASE_RC_BAD_SEQUENCE, Reason::k_general, ExitCode::k_general},
    {TSS2_MU_RC_LAYER | TSS2_BASE_RC_INSUFFICIENT_BUFFER, Reason::k_general, ExitCode::k_general},
  };
  for (const RcCase& c : cases) {
    SCOPED_TRACE(Tss2_RC_Decode(c.rc));
    EXPECT_EQ(tpm::reason_of_rc(c.rc), c.reason);
    tpm::TpmError e = thrown(c.rc);
    EXPECT_EQ(e.reason(), c.reason);
    EXPECT_EQ(e.code(), c.code);
    EXPECT_EQ(e.rc(), c.rc);
    EXPECT_EQ(tpm::is_lockout(e), c.reason == Reason::k_lockout);
    EXPECT_EQ(tpm::is_tpm_full(e), c.reason == Reason::k_tpm_full);
  }
}

TEST(ReasonOfRc, SuccessDoesNotThrow)
{
  EXPECT_NO_THROW(tpm::check_rc(TSS2_RC_SUCCESS, "TPM2_Test"));
}

TEST(ReasonOfRc, AuthKindChangesTheHintNotTheReason)
{
  const TSS2_RC rc = k_tpm | TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1;
  tpm::TpmError pin = thrown(rc, tpm::AuthKind::k_pin);
  tpm::TpmError hierarchy = thrown(rc, tpm::AuthKind::k_hierarchy);
  EXPECT_NE(pin.hint(), hierarchy.hint());
  EXPECT_EQ(pin.reason(), Reason::k_wrong_auth);
  EXPECT_EQ(hierarchy.reason(), Reason::k_wrong_auth);
}

TEST(Reason, LockoutAndFullAreDecidedByReasonNotHintText)
{
  const std::string lockout_hint = thrown(k_tpm | TPM2_RC_LOCKOUT).hint();
  const std::string full_hint = thrown(k_tpm | TPM2_RC_OBJECT_MEMORY).hint();
  // The same hint under another reason is not a lockout / a full TPM...
  EXPECT_FALSE(tpm::is_lockout(Error(ExitCode::k_auth, "x", lockout_hint)));
  EXPECT_FALSE(tpm::is_tpm_full(Error(ExitCode::k_general, "x", full_hint)));
  // ... and a reworded hint still is.
  EXPECT_TRUE(tpm::is_lockout(Error(Reason::k_lockout, "x", "reworded")));
  EXPECT_TRUE(tpm::is_tpm_full(Error(Reason::k_tpm_full, "x")));
}

struct ReasonCase
{
  Reason reason;
  ExitCode code;
  CK_RV rv;
};

constexpr ReasonCase k_reasons[] = {
  {Reason::k_general, ExitCode::k_general, CKR_FUNCTION_FAILED},
  {Reason::k_usage, ExitCode::k_usage, CKR_ARGUMENTS_BAD},
  {Reason::k_wrong_auth, ExitCode::k_auth, CKR_PIN_INCORRECT},
  {Reason::k_lockout, ExitCode::k_auth, CKR_PIN_LOCKED},
  {Reason::k_tpm_full, ExitCode::k_general, CKR_FUNCTION_FAILED},
  {Reason::k_unreachable, ExitCode::k_tcti, CKR_DEVICE_ERROR},
  {Reason::k_unsupported, ExitCode::k_unsupported, CKR_MECHANISM_INVALID},
  {Reason::k_not_found, ExitCode::k_not_found, CKR_FUNCTION_FAILED},
  {Reason::k_store, ExitCode::k_general, CKR_FUNCTION_FAILED},
  {Reason::k_attest_failed, ExitCode::k_attest_failed, CKR_FUNCTION_FAILED},
  {Reason::k_attest_policy, ExitCode::k_attest_policy, CKR_FUNCTION_FAILED},
};

TEST(Reason, EachReasonHasItsExitCodeAndCkRv)
{
  for (const ReasonCase& c : k_reasons) {
    SCOPED_TRACE(static_cast<int>(c.reason));
    EXPECT_EQ(exit_code_of(c.reason), c.code);
    EXPECT_EQ(p11::rv_of(c.reason), c.rv);
    Error e(c.reason, "message", "hint");
    EXPECT_EQ(e.reason(), c.reason);
    EXPECT_EQ(e.code(), c.code);
  }
  EXPECT_EQ(std::size(k_reasons), static_cast<size_t>(Reason::k_attest_policy) + 1);
}

TEST(Reason, AnErrorMadeFromAnExitCodeKeepsThatExitCode)
{
  for (ExitCode c : {ExitCode::k_general, ExitCode::k_usage, ExitCode::k_auth, ExitCode::k_tcti,
                     ExitCode::k_unsupported, ExitCode::k_not_found, ExitCode::k_attest_failed,
                     ExitCode::k_attest_policy}) {
    EXPECT_EQ(Error(c, "m").code(), c);
    EXPECT_EQ(exit_code_of(reason_of(c)), c);
  }
  EXPECT_EQ(Error(ExitCode::k_auth, "m").reason(), Reason::k_wrong_auth);
  EXPECT_EQ(p11::rv_of(Error(ExitCode::k_auth, "m").reason()), CKR_PIN_INCORRECT);
}

} // namespace
} // namespace ptool
