// SPDX-License-Identifier: BSD-2-Clause
#include "core/tpm/token_ops.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "core/c_handles.hpp"
#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/crypto/pk.hpp"
#include "core/hex.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/import.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::tpm {

namespace {

// What a serialized ESYS_TR (IESYS_RESOURCE: handle, name, resource type, public area) says
// about a persistent object, read without the TPM.
struct StoredObject
{
  TPM2_HANDLE handle = 0;
  TPM2B_NAME name{};
  TPM2B_PUBLIC pub{};
};

StoredObject
parse_serialized_tr(std::span<const uint8_t> blob, int64_t pid)
{
  StoredObject out;
  size_t off = 0;
  UINT32 type = 0;
  constexpr UINT32 k_key_resource = 1; // IESYSC_KEY_RSRC
  if (Tss2_MU_TPM2_HANDLE_Unmarshal(blob.data(), blob.size(), &off, &out.handle) != TSS2_RC_SUCCESS
      || Tss2_MU_TPM2B_NAME_Unmarshal(blob.data(), blob.size(), &off, &out.name) != TSS2_RC_SUCCESS
      || Tss2_MU_UINT32_Unmarshal(blob.data(), blob.size(), &off, &type) != TSS2_RC_SUCCESS
      || type != k_key_resource
      || Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob.data(), blob.size(), &off, &out.pub)
           != TSS2_RC_SUCCESS) {
    throw Error(ExitCode::k_general,
                "primary " + std::to_string(pid)
                  + "'s serialized handle in the store is unreadable",
                "the store is damaged; restore it from a backup");
  }
  return out;
}

bool
same_name(const TPM2B_NAME& a, const TPM2B_NAME& b)
{
  return a.size == b.size && std::memcmp(a.name, b.name, a.size) == 0;
}

TPM2B_NAME
name_of(ESYS_CONTEXT* ctx, ESYS_TR tr)
{
  TPM2B_NAME* raw = nullptr;
  check_rc(Esys_TR_GetName(ctx, tr, &raw), "Esys_TR_GetName");
  EsysPtr<TPM2B_NAME> owned(raw);
  return *raw;
}

} // namespace

RepairResult
repair_primary(ESYS_CONTEXT* ctx, const Primary& primary, std::span<const uint8_t> hierarchy_auth)
{
  const std::string pid = std::to_string(primary.id);
  if (primary.transient) {
    throw_usage("primary " + pid
                + " is transient: it is re-created on every use, there is "
                  "nothing to repair");
  }
  StoredObject stored = parse_serialized_tr(primary.esys_tr, primary.id);
  const std::string handle = hex32(stored.handle);
  if ((stored.handle >> 24) != TPM2_HT_PERSISTENT) {
    throw Error(ExitCode::k_general,
                "primary " + pid + " names " + handle + ", which is not a persistent handle",
                "the store is damaged; restore it from a backup");
  }
  std::vector<TPM2_HANDLE> used = persistent_handles(ctx);
  if (std::find(used.begin(), used.end(), stored.handle) != used.end()) {
    ESYS_TR live_raw = ESYS_TR_NONE;
    check_rc(Esys_TR_FromTPMPublic(ctx, stored.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &live_raw),
             "TPM2_ReadPublic");
    TpmObject live(ctx, live_raw, TpmObject::Drop::k_close);
    if (same_name(name_of(ctx, live.get()), stored.name)) {
      return RepairResult::k_present;
    }
    throw Error(ExitCode::k_general,
                "persistent handle " + handle + " holds another object, not primary " + pid
                  + "; not touching it",
                "whoever persisted it there owns it; 'tpm2-ptool doctor' shows the handles");
  }

  // The template is the stored public area without the key the TPM derived into it.
  TPM2B_PUBLIC tmpl = stored.pub;
  tmpl.size = 0;
  tmpl.publicArea.unique = TPMU_PUBLIC_ID{};

  std::optional<Session> session =
    owner_session(ctx, hierarchy_auth, !hierarchy_auth.empty() || !primary.objauth.empty());
  ESYS_TR auth_session = session ? session->get() : ESYS_TR_PASSWORD;
  TpmObject fresh = create_primary(ctx, ESYS_TR_RH_OWNER, auth_session, tmpl, primary.objauth);
  if (!same_name(name_of(ctx, fresh.get()), stored.name)) {
    throw Error(ExitCode::k_general,
                "cannot repair primary " + pid
                  + ": this TPM's owner hierarchy no longer "
                    "derives it (the TPM was cleared, or this is not the TPM the store was made "
                    "on)",
                "the keys under primary " + pid
                  + " are gone: no TPM can load them again. "
                    "Make new ones with 'tpm2-ptool init', 'addtoken' and 'addkey'");
  }
  if (session) {
    session->last_use();
    session->use_for(false, false);
  }
  ESYS_TR persistent = ESYS_TR_NONE;
  check_rc(Esys_EvictControl(ctx, ESYS_TR_RH_OWNER, fresh.get(), auth_session, ESYS_TR_NONE,
                             ESYS_TR_NONE, stored.handle, &persistent),
           "TPM2_EvictControl", AuthKind::k_hierarchy);
  if (session) {
    session->finished();
  }
  Esys_TR_Close(ctx, &persistent);
  return RepairResult::k_repaired;
}

void
clear_lockout(ESYS_CONTEXT* ctx, std::span<const uint8_t> lockout_auth)
{
  set_auth(ctx, ESYS_TR_RH_LOCKOUT, lockout_auth);
  std::optional<Session> session;
  if (!lockout_auth.empty()) {
    TpmObject salt = create_salt_key(ctx);
    session.emplace(ctx, salt.get());
    session->last_use();
  }
  TSS2_RC rc = Esys_DictionaryAttackLockReset(ctx, ESYS_TR_RH_LOCKOUT,
                                              session ? session->get() : ESYS_TR_PASSWORD,
                                              ESYS_TR_NONE, ESYS_TR_NONE);
  if (rc != TSS2_RC_SUCCESS && (rc & ~TSS2_RC_LAYER_MASK) == TPM2_RC_LOCKOUT) {
    throw Error(Reason::k_lockout,
                std::string("TPM2_DictionaryAttackLockReset failed: ") + Tss2_RC_Decode(rc),
                "the lockout hierarchy itself is locked after a wrong lockout auth: wait for "
                "its recovery time ('tpm2-ptool doctor' shows the TPM's settings)");
  }
  if (rc != TSS2_RC_SUCCESS) {
    TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;
    if ((base & TPM2_RC_FMT1) && ((base & 0x3f) | TPM2_RC_FMT1) == TPM2_RC_AUTH_FAIL) {
      throw Error(ExitCode::k_auth,
                  std::string("TPM2_DictionaryAttackLockReset failed: ") + Tss2_RC_Decode(rc),
                  "wrong lockout auth (pass it with --lockout-auth-file or "
                  "TPM2_PTOOL_LOCKOUT_AUTH); the lockout hierarchy is now blocked for its "
                  "recovery time");
    }
  }
  check_rc(rc, "TPM2_DictionaryAttackLockReset");
  if (session) {
    session->finished();
  }
}

void
validate_transient_primary(ESYS_CONTEXT* ctx, const std::string& template_name,
                           std::span<const uint8_t> hierarchy_auth,
                           std::span<const uint8_t> primary_auth)
{
  Primary p;
  p.transient = true;
  p.template_name = template_name;
  p.objauth = SecureBytes(primary_auth.begin(), primary_auth.end());
  PrimaryContext pc(ctx, p, hierarchy_auth);
}

namespace {

// A constant, published RSA-2048 key for the RSA-PSS probe. It protects nothing: it only
// signs the probe message in the NULL hierarchy and is flushed at once. Constant rather
// than generated per call because software RSA-2048 key generation costs 50 ms to 2 s of
// CPU, and a TPM-generated one seconds of TPM time (docs/benchmarks.md, latency model).
constexpr std::string_view k_probe_modulus =
  "a74c6afa209d92f10d78b33944340b25d74456075df9efb62e30603ac0101d67"
  "953d2ed47fc70c279ca65beafaa9a66b216f440e779ec44c362de8b1390f40c5"
  "b3d0ac33ba313f17d320c78c0dcad332f7d29fe9495cb0136cf2cd5a0a00641c"
  "75efb1b66e49492e0425a4e4cb9e9531ff14bbc6091332a2b40406bf84d76f72"
  "d4ed0a97e1e94a63e8c45674a547a830b037e2d8fbedb45c62f0ba2b272cfbaf"
  "28019eb836b83e0bea469eedf61bd898528d5fe631e4caf6884c812fd4436e08"
  "1f90189f1d77c9bdec33051fec7e7d3998b135d74f1dd6c6293b12fb0192d6a8"
  "daf0ed0f2c1c3f437816d105a2677c7291c7f86f90bf11ad0f66bb90a5ebfe43";
constexpr std::string_view k_probe_prime =
  "e0094eaf362ecdb7538c95cde36830743bc26a30d6abfc4e08e831268321bb3c"
  "65747aeed04a696343cb5618b800134d6ec4501ecfd7d8012e5b930f9c573284"
  "1a2e9b1956ace8a7e29984d642d3fa34bba3bc7f2d865e62de4289801e2b9e1d"
  "6ce85c349c8192406bad3b655a6691e5bcf3ab6db48e3f737b8fbe09b221a51d";

// Verdict on one probe signature: true when its salt is the hash length, false when it is
// the maximum; throws when it is neither (the TPM's RSA-PSS is unusable).
bool
pss_salt_is_hash_length(EVP_PKEY* pkey, std::span<const uint8_t> md, size_t modulus_bytes,
                        std::span<const uint8_t> signature)
{
  if (crypto::verify(pkey, crypto::SigKind::k_rsa_pss, "SHA256", md.size(), md, signature)) {
    return true;
  }
  if (crypto::verify(pkey, crypto::SigKind::k_rsa_pss, "SHA256", modulus_bytes - md.size() - 2, md,
                     signature)) {
    return false;
  }
  throw Error(ExitCode::k_general, "the TPM's RSA-PSS test signature does not verify",
              "this TPM's RSA-PSS implementation is not usable");
}

} // namespace

bool
pss_sigs_good(ESYS_CONTEXT* ctx)
{
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* raw = nullptr;
  check_rc(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MODES, 1, &more, &raw),
           "TPM2_GetCapability(modes)");
  EsysPtr<TPMS_CAPABILITY_DATA> caps(raw);
  const auto& props = caps->data.tpmProperties;
  if (props.count == 1 && props.tpmProperty[0].property == TPM2_PT_MODES
      && (props.tpmProperty[0].value & TPMA_MODES_FIPS_140_2)) {
    return true;
  }

  // TPM2_LoadExternal of the probe key (public and private part, NULL hierarchy): no key
  // generation in the TPM. Nothing secret crosses the bus, so no session is needed.
  keys::PlainKey key;
  key.kind = keys::PlainKey::Kind::k_rsa;
  key.modulus = *from_hex(k_probe_modulus);
  key.exponent = 65537;
  Bytes prime = *from_hex(k_probe_prime);
  key.prime = SecureBytes(prime.begin(), prime.end());
  ImportAreas areas;
  build_import_areas(key, {}, TPM2_ALG_NULL, areas);
  TPM2B_SENSITIVE sensitive{};
  sensitive.sensitiveArea = areas.sensitive;
  ESYS_TR handle = ESYS_TR_NONE;
  TSS2_RC rc = Esys_LoadExternal(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                 &areas.pub, ESYS_TR_RH_NULL, &handle);
  OPENSSL_cleanse(&sensitive, sizeof(sensitive));
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    return false; // no RSA-2048 signing key here: the library synthesizes PSS in software
  }
  check_rc(rc, "TPM2_LoadExternal(RSA-PSS probe key)");
  TpmObject loaded(ctx, handle, TpmObject::Drop::k_flush);

  static constexpr char k_message[] = "message";
  Bytes md = crypto::sha256(std::span(reinterpret_cast<const uint8_t*>(k_message), 7));
  TPM2B_DIGEST digest{};
  digest.size = static_cast<UINT16>(md.size());
  std::memcpy(digest.buffer, md.data(), md.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_RSAPSS;
  scheme.details.rsapss.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK ticket{};
  ticket.tag = TPM2_ST_HASHCHECK;
  ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  rc = Esys_Sign(ctx, loaded.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                 &ticket, &sig);
  EsysPtr<TPMT_SIGNATURE> owned(sig);
  if (rc != TSS2_RC_SUCCESS && is_unsupported_parameter(rc)) {
    return false; // no RSA-PSS at all: the library synthesizes PSS in software
  }
  check_rc(rc, "TPM2_Sign(RSA-PSS probe)");
  loaded.reset();

  EvpPkey pkey = keys::rsa_public_key(key.modulus, {0x01, 0x00, 0x01});
  return pss_salt_is_hash_length(
    pkey.get(), md, key.modulus.size(),
    std::span<const uint8_t>(sig->signature.rsapss.sig.buffer, sig->signature.rsapss.sig.size));
}

} // namespace ptool::tpm
