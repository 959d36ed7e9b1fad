// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/key_ops.hpp"

#include <algorithm>
#include <cstring>

#include <tss2/tss2_mu.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"

namespace ptool::tpm {

TPM2B_PRIVATE
change_auth(PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
            std::span<const uint8_t> old_auth, std::span<const uint8_t> new_auth, AuthKind kind,
            bool last)
{
  ESYS_CONTEXT* ctx = pc.ctx();
  TpmObject obj = pc.load(pub, priv);
  set_auth(ctx, obj.get(), old_auth);
  Wiped<TPM2B_AUTH> value;
  if (new_auth.size() > sizeof(value->buffer)) {
    throw Error(ExitCode::k_usage, "the new auth value is longer than the TPM accepts");
  }
  value->size = static_cast<UINT16>(new_auth.size());
  if (!new_auth.empty()) {
    std::memcpy(value->buffer, new_auth.data(), new_auth.size());
  }
  if (last) {
    pc.session().last_use();
  }
  // newAuth is the first command parameter: the session encrypts it on the bus.
  pc.session().use_for(true, false);
  TPM2B_PRIVATE* out = nullptr;
  TSS2_RC rc = Esys_ObjectChangeAuth(ctx, obj.get(), pc.primary(), pc.session().get(), ESYS_TR_NONE,
                                     ESYS_TR_NONE, value.get(), &out);
  EsysPtr<TPM2B_PRIVATE> owned(out);
  check_rc(rc, "TPM2_ObjectChangeAuth", kind);
  if (last) {
    pc.session().finished();
  }
  return *out;
}

Bytes
object_name(const TPM2B_PUBLIC& pub)
{
  if (pub.publicArea.nameAlg != TPM2_ALG_SHA256) {
    throw Error(ExitCode::k_unsupported, "only SHA-256 name algorithms are supported");
  }
  Bytes area(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  check_rc(Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, area.data(), area.size(), &offset),
           "Tss2_MU_TPMT_PUBLIC_Marshal");
  area.resize(offset);
  Bytes digest = crypto::sha256(area);
  Bytes name(2 + digest.size());
  name[1] = 0x0b; // TPM2_ALG_SHA256, big-endian
  std::copy(digest.begin(), digest.end(), name.begin() + 2);
  return name;
}

} // namespace ptool::tpm
