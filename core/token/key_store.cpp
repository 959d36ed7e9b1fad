// SPDX-License-Identifier: BSD-2-Clause
#include "core/token/key_store.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::token {

void
recheck_seal(const store::Store& st, const Token& token, const SealObject& used, bool whole)
{
  auto same = [whole](const SealBlobs& a, const SealBlobs& b) {
    return a.pub == b.pub && (!whole || (a.priv == b.priv && a.salt == b.salt));
  };
  std::optional<SealObject> now = st.seal_object(token.id);
  bool ok = now && now->id == used.id && same(now->so, used.so)
            && now->user.has_value() == used.user.has_value()
            && (!now->user || same(*now->user, *used.user));
  if (!ok) {
    throw Error(ExitCode::k_general,
                "token " + std::to_string(token.id)
                  + "'s seal objects changed while this command ran (another changepin, initpin "
                    "or rmtoken); nothing was written",
                "run the command again");
  }
}

std::vector<int64_t>
insert_key_objects(store::Store& st, const Token& token, const SealObject& seal,
                   const std::vector<AttrMap>& objects)
{
  store::Transaction tx(st);
  recheck_seal(st, token, seal, false);
  std::vector<int64_t> ids;
  for (const AttrMap& attrs : objects) {
    ids.push_back(st.insert_object(token.id, attrs));
  }
  tx.commit();
  return ids;
}

namespace {

// What one stored key's mechanism list says about the TPM: alg -> supported.
void
facts_of(const AttrMap& attrs, std::map<TPM2_ALG_ID, std::set<bool>>& facts)
{
  auto it = attrs.find(ck::k_allowed_mechanisms);
  if (it == attrs.end() || it->second.kind != AttrValue::Kind::k_seq) {
    return;
  }
  const std::vector<uint64_t>& m = it->second.seq;
  auto has = [&m](uint64_t mech) { return std::find(m.begin(), m.end(), mech) != m.end(); };
  auto note = [&facts](TPM2_ALG_ID alg, bool yes) { facts[alg].insert(yes); };
  const std::optional<uint64_t> type = keys::attr_int(attrs, ck::k_key_type);
  if (type == ck::k_k_ec) {
    note(TPM2_ALG_SHA384, has(ck::k_m_ecdsa_sha384));
    note(TPM2_ALG_SHA512, has(ck::k_m_ecdsa_sha512));
  } else if (type == ck::k_k_rsa) {
    const bool pss = has(ck::k_m_rsa_pkcs_pss);
    note(TPM2_ALG_RSAPSS, pss);
    if (pss) { // the SHA-384/512 PSS mechanisms are listed only with RSA-PSS
      note(TPM2_ALG_SHA384, has(ck::k_m_sha384_rsa_pkcs_pss));
      note(TPM2_ALG_SHA512, has(ck::k_m_sha512_rsa_pkcs_pss));
    }
  } else if (type == ck::k_k_aes) {
    note(TPM2_ALG_CBC, has(ck::k_m_aes_cbc));
    note(TPM2_ALG_CFB, has(ck::k_m_aes_cfb128));
    note(TPM2_ALG_ECB, has(ck::k_m_aes_ecb));
    note(TPM2_ALG_OFB, has(ck::k_m_aes_ofb));
    note(TPM2_ALG_CTR, has(ck::k_m_aes_ctr));
  }
}

} // namespace

std::optional<tpm::AlgorithmSet>
known_algorithms(const store::Store& st, int64_t pid, TPM2_ALG_ID type)
{
  std::vector<TPM2_ALG_ID> needed;
  switch (type) {
  case TPM2_ALG_RSA:
    needed = {TPM2_ALG_RSAPSS, TPM2_ALG_SHA384, TPM2_ALG_SHA512};
    break;
  case TPM2_ALG_ECC:
    needed = {TPM2_ALG_SHA384, TPM2_ALG_SHA512};
    break;
  case TPM2_ALG_SYMCIPHER:
    needed = {TPM2_ALG_CBC, TPM2_ALG_CFB, TPM2_ALG_ECB, TPM2_ALG_OFB, TPM2_ALG_CTR};
    break;
  default:
    return tpm::AlgorithmSet{}; // HMAC: the list does not depend on the TPM
  }
  std::map<TPM2_ALG_ID, std::set<bool>> facts;
  auto skip = [](const Error&) {};
  for (const Token& t : st.tokens_skipping(skip)) {
    if (t.pid != pid) {
      continue;
    }
    for (const Object& o : st.objects_skipping(t.id, skip)) {
      facts_of(o.attrs, facts);
    }
  }
  tpm::AlgorithmSet algs;
  for (TPM2_ALG_ID alg : needed) {
    auto it = facts.find(alg);
    if (it == facts.end() || it->second.size() != 1) {
      return std::nullopt; // not told, or two keys disagree: ask the TPM
    }
    if (*it->second.begin()) {
      algs.algs.push_back(alg);
    }
  }
  return algs;
}

tpm::AlgorithmSet
algorithms_for_key(const store::Store& st, int64_t pid, TPM2_ALG_ID type, ESYS_CONTEXT* ctx)
{
  std::optional<tpm::AlgorithmSet> known = known_algorithms(st, pid, type);
  return known ? *known : tpm::get_algorithms(ctx);
}

} // namespace ptool::token
