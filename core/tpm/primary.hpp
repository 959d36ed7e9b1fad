// SPDX-License-Identifier: BSD-2-Clause
// A token's primary key in the TPM: made usable for one process (PrimaryContext, with its
// salted session), created and persisted by init (PersistentPrimary), read back by handle.
#pragma once

#include <optional>

#include "core/model.hpp"
#include "core/tpm/esys.hpp"

namespace ptool::tpm {

// What TPM2_Create returns, ready to store.
struct CreatedObject
{
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
};

// A token's primary made usable, plus the one salted, encrypted session this process uses
// for everything under it. Persistent primaries are deserialized from the store (no TPM
// command); transient ones are re-created from their template and flushed on destruction.
class PrimaryContext
{
public:
  PrimaryContext(ESYS_CONTEXT* ctx, const Primary& primary,
                 std::span<const uint8_t> hierarchy_auth);

  ESYS_TR
  primary() const { return m_primary.get(); }
  ESYS_CONTEXT* ctx() const { return m_ctx; }
  Session& session() { return *m_session; }

  // TPM2_Create under the primary with the sensitive part (auth, data) encrypted on the bus.
  // `last` ends the session with this command (saves a FlushContext).
  CreatedObject create(const TPM2B_PUBLIC& tmpl, std::span<const uint8_t> auth,
                       std::span<const uint8_t> data, bool last);
  // TPM2_Load under the primary; the object is flushed when the result goes away. `last`
  // ends the session with this command (saves a FlushContext).
  TpmObject load(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv, bool last = false);
  // Loads a seal object, unseals it with `auth` (response encrypted) and flushes it. `last`
  // ends the session with the TPM2_Unseal.
  SecureBytes unseal(const SealBlobs& seal, std::span<const uint8_t> auth, bool last = false);
  // Forgets the primary, salt key and session without flushing them: the TPM connection or
  // the TPM's state behind them is gone (a reset or restart), and the handles may be reused.
  void abandon() noexcept;

private:
  ESYS_CONTEXT* m_ctx;
  TpmObject m_bootstrap; // NULL-hierarchy salt key, only while creating a transient primary
  TpmObject m_primary;
  std::optional<Session> m_session;
};

// How a token's wrapping key is sealed and unsealed: core/token/seals.hpp.

// Result of init: the new persistent primary.
struct NewPrimary
{
  TPM2_HANDLE handle = 0;
  Bytes esys_tr;
};

// Creates the tpm2-tools default storage primary in the owner hierarchy and persists it at
// `wanted` (or 0x81000001, else the first free handle from 0x81000000). Returns a guard
// that evicts the handle again unless commit() is called (when the store write failed).
class PersistentPrimary
{
public:
  PersistentPrimary(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth,
                    std::span<const uint8_t> primary_auth, std::optional<TPM2_HANDLE> wanted);
  ~PersistentPrimary();
  PersistentPrimary(const PersistentPrimary&) = delete;
  PersistentPrimary& operator=(const PersistentPrimary&) = delete;
  const NewPrimary& result() const { return m_result; }
  void commit() { m_committed = true; }

private:
  void release() noexcept; // evicts the handle unless committed, then closes it

  ESYS_CONTEXT* m_ctx;
  SecureBytes m_hierarchy_auth;
  NewPrimary m_result;
  ESYS_TR m_persistent = ESYS_TR_NONE;
  bool m_committed = false;
};

// Reads an existing persistent object (init --primary-handle): serialized ESYS_TR. Throws
// not-found when the handle is not persistent / not present.
Bytes read_persistent(ESYS_CONTEXT* ctx, TPM2_HANDLE handle);

// TPM2_CreatePrimary of `tmpl` in `hierarchy` with `auth` as the object's auth (sent in the
// encrypted `session`); the result is flushed when it goes away. `out_public`, when given,
// receives the created public area.
TpmObject create_primary(ESYS_CONTEXT* ctx, ESYS_TR hierarchy, ESYS_TR session,
                         const TPM2B_PUBLIC& tmpl, std::span<const uint8_t> auth,
                         TPM2B_PUBLIC* out_public = nullptr);

// A NULL-hierarchy key that salts a session before any key of ours exists. It needs no
// auth and its seed changes at every TPM reset, so nothing is left behind.
TpmObject create_salt_key(ESYS_CONTEXT* ctx);

// Sets the owner hierarchy's auth and, when `secret` (an auth goes to the TPM), returns a
// session salted with a fresh NULL-hierarchy key that encrypts the command's first
// parameter; nullopt when a plain password session will do.
std::optional<Session> owner_session(ESYS_CONTEXT* ctx, std::span<const uint8_t> hierarchy_auth,
                                     bool secret);

} // namespace ptool::tpm
