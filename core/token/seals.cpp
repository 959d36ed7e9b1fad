// SPDX-License-Identifier: BSD-2-Clause
#include "core/token/seals.hpp"

#include <string>

#include "core/crypto/crypto.hpp"
#include "core/error.hpp"
#include "core/hex.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/key_ops.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::token {

namespace {

// What is sealed is the wrapping key's hex text, as upstream does (store-format §3.2): 64
// characters, the same under both PINs.
constexpr size_t k_key_bytes = 32;
constexpr size_t k_salt_bytes = 32;

// The 32-byte key from the 64 hex characters that are sealed.
SecureBytes
key_from_text(std::span<const uint8_t> text)
{
  if (text.size() != 64) {
    throw Error(ExitCode::k_general, "the token's sealed wrapping key has an unexpected length");
  }
  SecureBytes key(32);
  for (size_t i = 0; i < 32; ++i) {
    auto nib = [](uint8_t c) -> int {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    int hi = nib(text[2 * i]);
    int lo = nib(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      throw Error(ExitCode::k_general, "the token's sealed wrapping key is not hex");
    }
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return key;
}

std::string
new_salt()
{
  return std::string(crypto::random_hex(k_salt_bytes).view());
}

// One seal object holding `text` under `pin` with a fresh salt.
SealBlobs
seal_under(tpm::PrimaryContext& pc, const SecureBytes& pin, const SecureBytes& text, bool last)
{
  std::string salt = new_salt();
  tpm::CreatedObject created =
    pc.create(tpm::seal_template(), crypto::hash_pass(pin, salt), text, last);
  return SealBlobs{tpm::marshal_public(created.pub), tpm::marshal_private(created.priv),
                   std::move(salt)};
}

} // namespace

NewSeals
create_token_seals(tpm::PrimaryContext& pc, const SecureBytes& userpin, const SecureBytes& sopin,
                   bool last)
{
  SecureBytes text = crypto::random_hex(k_key_bytes);
  NewSeals out;
  out.seal.user = seal_under(pc, userpin, text, false);
  out.seal.so = seal_under(pc, sopin, text, last);
  out.wrapping_key = key_from_text(text);
  return out;
}

SealBlobs
create_so_seal(tpm::PrimaryContext& pc, const SecureBytes& sopin, bool last)
{
  return seal_under(pc, sopin, crypto::random_hex(k_key_bytes), last);
}

SealBlobs
seal_wrapping_key(tpm::PrimaryContext& pc, const SecureBytes& key, const SecureBytes& pin,
                  bool last)
{
  if (key.size() != k_key_bytes) {
    throw Error(ExitCode::k_general, "the token's wrapping key has an unexpected length");
  }
  return seal_under(pc, pin, to_secure_hex(key), last);
}

SecureBytes
unseal_wrapping_key(tpm::PrimaryContext& pc, const SealBlobs& seal, std::span<const uint8_t> pin,
                    bool last)
{
  SecureBytes auth = crypto::hash_pass(pin, seal.salt);
  SecureBytes text;
  try {
    text = pc.unseal(seal, auth, last);
  } catch (const Error& e) {
    if (e.code() != ExitCode::k_auth) {
      throw;
    }
    // Say how many tries are left (or how long the lockout lasts) from the TPM's counters.
    std::string note = tpm::lockout_note(pc.ctx());
    std::string hint = e.hint() + (note.empty() ? "" : "; " + note);
    if (tpm::is_lockout(e)) {
      throw Error(Reason::k_lockout, e.what(), hint);
    }
    throw Error(ExitCode::k_auth, std::string("wrong PIN (") + e.what() + ")", hint);
  }
  return key_from_text(text);
}

SealBlobs
reseal_user(tpm::PrimaryContext& pc, const SealBlobs& so_seal, const SecureBytes& sopin,
            const SecureBytes& userpin)
{
  SecureBytes key = unseal_wrapping_key(pc, so_seal, sopin);
  return seal_under(pc, userpin, to_secure_hex(key), true);
}

SealBlobs
change_pin(tpm::PrimaryContext& pc, const SealBlobs& seal, const SecureBytes& old_pin,
           const SecureBytes& new_pin, bool last)
{
  // A fresh salt each time, as upstream: the new seal auth reveals nothing about the old.
  std::string salt = new_salt();
  TPM2B_PUBLIC pub = tpm::unmarshal_public(seal.pub);
  TPM2B_PRIVATE priv;
  try {
    priv = tpm::change_auth(pc, pub, tpm::unmarshal_private(seal.priv),
                            crypto::hash_pass(old_pin, seal.salt), crypto::hash_pass(new_pin, salt),
                            tpm::AuthKind::k_pin, last);
  } catch (const Error& e) {
    if (e.code() == ExitCode::k_auth && !tpm::is_lockout(e)) {
      throw Error(ExitCode::k_auth, std::string("wrong old PIN (") + e.what() + ")", e.hint());
    }
    throw;
  }
  return SealBlobs{seal.pub, tpm::marshal_private(priv), std::move(salt)};
}

} // namespace ptool::token
