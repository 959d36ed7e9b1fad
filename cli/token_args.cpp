// SPDX-License-Identifier: BSD-2-Clause
#include "cli/token_args.hpp"

#include "core/error.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/token/key_store.hpp"

namespace ptool::cli {

void
add_token_auth_options(CLI::App* sub, TokenAuthOptions& o)
{
  add_secret_option(sub, o.userpin, "the token's user PIN");
  add_secret_option(sub, o.sopin, "the token's SO PIN (instead of the user PIN)");
  add_secret_option(sub, o.hierarchy_auth, "owner hierarchy auth (transient primaries)");
  sub->get_option("--userpin")->excludes(sub->get_option("--sopin"));
}

ChosenPin
choose_pin(const TokenAuthOptions& o, const Token& token)
{
  if (o.sopin.argv_value || o.sopin.file) {
    return {true, read_secret(o.sopin, Prompt::k_never)};
  }
  if (o.userpin.given()) {
    return {false, read_secret(o.userpin, Prompt::k_never)};
  }
  if (token.config.empty_user_pin) {
    return {false, SecureBytes{}};
  }
  if (o.sopin.given()) {
    return {true, read_secret(o.sopin, Prompt::k_never)};
  }
  return {false, read_secret(o.userpin, Prompt::k_existing)};
}

TokenForKeys
resolve_token_for_keys(const store::Store& st, const std::string& label, const TokenAuthOptions& o)
{
  store::TokenRows rows = store::load_token(st, label, {.require_init = true, .no_seal_hint = {}});
  ChosenPin pin = choose_pin(o, rows.token);
  if (!pin.so && !rows.seal.user) {
    throw Error(ExitCode::k_auth, "token \"" + label + "\" has no user PIN yet",
                "set one with 'tpm2-ptool initpin', or use --sopin");
  }
  SecureBytes hierarchy_auth = read_secret(o.hierarchy_auth, Prompt::k_never, "");
  return TokenForKeys{std::move(rows.token), std::move(rows.primary), std::move(rows.seal),
                      std::move(pin), std::move(hierarchy_auth)};
}

void
store_key_objects(store::Store& st, const TokenForKeys& t, const std::vector<AttrMap>& objects)
{
  token::insert_key_objects(st, t.token, t.seal, objects);
}

void
store_user_seal(store::Store& st, Token& token, const SealBlobs& blobs, bool pin_empty)
{
  st.update_seal_user(token.id, blobs);
  if (token.config.empty_user_pin != pin_empty) {
    token.config.empty_user_pin = pin_empty;
    st.update_token_config(token.id, token.config);
  }
}

} // namespace ptool::cli
