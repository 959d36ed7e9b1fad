// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/flows.hpp"

#include <cstdio>

#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "core/attest/ak_cert.hpp"
#include "core/attest/device.hpp"
#include "core/attest/public.hpp"
#include "core/attest/verifier.hpp"
#include "core/attest/webauthn.hpp"
#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"

namespace ptool::attest {

namespace {} // namespace

Doc
enroll(ESYS_CONTEXT* ctx, std::span<const uint8_t> endorsement_auth,
       std::optional<uint32_t> ek_index)
{
  EndorsementAuth auth(ctx, endorsement_auth);
  EnrolledEk found = find_ek(ctx, auth, ek_index);
  HierarchyKey ak = create_ak(ctx, auth);
  Doc doc(k_type_enroll);
  doc.set("ek_nv_index", hex32(found.cert.nv_index));
  doc.set("ek_template", found.cert.template_name);
  doc.set_b64("ek_certificate", found.cert.der);
  doc.set_b64("ek_public", marshal_tpmt_public(found.ek.pub));
  doc.set_b64("ak_public", marshal_tpmt_public(ak.pub));
  return doc;
}

Doc
activate(ESYS_CONTEXT* ctx, const Doc& challenge, std::span<const uint8_t> endorsement_auth)
{
  const std::string& tmpl = challenge.get("ek_template");
  Bytes blob = challenge.get_b64("credential_blob");
  Bytes secret = challenge.get_b64("encrypted_secret");
  EndorsementAuth auth(ctx, endorsement_auth);
  HierarchyKey ek = create_ek(ctx, auth, tmpl);
  HierarchyKey ak = create_ak(ctx, auth);
  SecureBytes credential = activate_credential(ctx, auth, ek, tmpl, ak, blob, secret);
  Doc doc(k_type_response);
  doc.set("challenge_id", challenge.get("challenge_id"));
  doc.set_b64("proof", activation_proof(credential, tpm_name(ak.pub)));
  return doc;
}

Doc
attest_key(tpm::PrimaryContext& pc, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
           std::span<const uint8_t> objauth, const std::string& ssh_public_key,
           std::span<const uint8_t> nonce, std::optional<std::span<const uint8_t>> ak_cert_der,
           std::span<const uint8_t> endorsement_auth)
{
  Bytes blob = openssh_blob(pub.publicArea);
  std::string line =
    ssh_public_key.substr(0, ssh_public_key.find(' ', ssh_public_key.find(' ') + 1));
  size_t sp = line.find(' ');
  if (sp == std::string::npos || base64_decode(line.substr(sp + 1)) != blob) {
    throw Error(ExitCode::k_general,
                "the key's public object in the store is not the key of its TPM blob",
                "the store is damaged; check it with 'tpm2-ptool verify'");
  }
  ESYS_CONTEXT* ctx = pc.ctx();
  EndorsementAuth auth(ctx, endorsement_auth);
  HierarchyKey ak = create_ak(ctx, auth);
  tpm::TpmObject key = pc.load(pub, priv);
  tpm::set_auth(ctx, key.get(), objauth);
  Certification c = certify(ctx, key.get(), pc.session(), ak, key_qualifying_data(nonce, blob));

  Doc doc(k_type_key);
  doc.set("ssh_public_key", line);
  Bytes area = marshal_tpmt_public(pub.publicArea);
  doc.set_b64("pub_area", area);
  doc.set_b64("cert_info", c.cert_info);
  doc.set_b64("signature", c.signature);
  if (ak_cert_der) {
    TPMT_SIGNATURE sig{};
    size_t off = 0;
    tpm::check_rc(
      Tss2_MU_TPMT_SIGNATURE_Unmarshal(c.signature.data(), c.signature.size(), &off, &sig),
      "Tss2_MU_TPMT_SIGNATURE_Unmarshal");
    doc.set_b64(
      "webauthn_att_stmt",
      webauthn_statement(*ak_cert_der, ecdsa_der(sig.signature.ecdsa), c.cert_info, area));
  }
  return doc;
}

} // namespace ptool::attest
