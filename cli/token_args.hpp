// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include "cli/common.hpp"
#include "core/model.hpp"
#include "core/tpm/esys.hpp"
#include "core/token/key_store.hpp"

namespace ptool::cli {

// The PIN and hierarchy options shared by commands that unseal a token's wrapping key.
struct TokenAuthOptions
{
  SecretOption userpin{"--userpin", "TPM2_PTOOL_USERPIN", "user PIN"};
  SecretOption sopin{"--sopin", "TPM2_PTOOL_SOPIN", "SO PIN"};
  SecretOption hierarchy_auth{"--hierarchy-auth", "TPM2_PTOOL_HIERARCHY_AUTH",
                              "owner hierarchy auth"};
};

void add_token_auth_options(CLI::App* sub, TokenAuthOptions& o);

// Which seal object to open and with which PIN: --sopin selects the SO; otherwise the user
// PIN from its sources, "" for tokens with empty-user-pin, or a prompt.
struct ChosenPin
{
  bool so = false;
  SecureBytes pin;
};
ChosenPin choose_pin(const TokenAuthOptions& o, const Token& token);

// Everything a command that adds keys to a token needs before it touches the TPM: the
// initialized token, its primary, its seal objects, the chosen PIN and the hierarchy auth.
// Throws (usage, not-found, auth) before any TPM command or store write.
struct TokenForKeys
{
  Token token;
  Primary primary;
  SealObject seal;
  ChosenPin pin;
  SecureBytes hierarchy_auth;
  // The seal object the chosen PIN opens.
  const SealBlobs& chosen_seal() const { return pin.so ? seal.so : *seal.user; }
};
TokenForKeys resolve_token_for_keys(const store::Store& st, const std::string& label,
                                    const TokenAuthOptions& o);

// One transaction: recheck_seal (same wrapping key), then each of `objects` (a key's private
// or secret object first, then its public one) inserted into the token.
void store_key_objects(store::Store& st, const TokenForKeys& t,
                       const std::vector<AttrMap>& objects);

// Replaces the token's USER seal object and keeps its empty-user-pin flag in step with the
// new PIN (upstream §6). Call inside a store::Transaction.
void store_user_seal(store::Store& st, Token& token, const SealBlobs& blobs, bool pin_empty);

// Seal recheck and the TPM algorithms a new key's mechanism list depends on: shared with the
// PKCS#11 module (core/token/key_store.hpp).
using token::algorithms_for_key;
using token::known_algorithms;
using token::recheck_seal;

// Token and primary lookups with upstream's not-found messages (store/store.hpp).
using store::find_primary;
using store::find_token;

} // namespace ptool::cli
