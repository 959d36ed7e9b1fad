// SPDX-License-Identifier: BSD-2-Clause
// The lookup token -> primary -> seal row, with the errors the commands give.
#include <string>

#include "store/store.hpp"

namespace ptool::store {

Token
find_token(const Store& st, std::string_view label)
{
  auto token = st.token_by_label(label);
  if (!token) {
    throw_not_found("No token labeled \"" + std::string(label) + "\"",
                    "list tokens with 'tpm2-ptool listtokens --pid N'");
  }
  return std::move(*token);
}

Primary
find_primary(const Store& st, int64_t pid)
{
  auto p = st.primary(pid);
  if (!p) {
    throw_not_found("No primary object id: " + std::to_string(pid),
                    "list primaries with 'tpm2-ptool listprimaries'");
  }
  return std::move(*p);
}

TokenRows
load_token(const Store& st, Token token, const TokenLookup& how)
{
  const std::string name = token.label ? "token \"" + *token.label + "\"" : "token";
  if (how.require_init && !token.config.token_init) {
    throw_usage(name + " is not initialized");
  }
  Primary primary = find_primary(st, token.pid);
  auto seal = st.seal_object(token.id);
  if (!seal) {
    throw Error(ExitCode::k_general, name + " has no seal objects in the store", how.no_seal_hint);
  }
  return TokenRows{std::move(token), std::move(primary), std::move(*seal)};
}

TokenRows
load_token(const Store& st, std::string_view label, const TokenLookup& how)
{
  return load_token(st, find_token(st, label), how);
}

} // namespace ptool::store
