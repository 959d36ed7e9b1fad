// SPDX-License-Identifier: BSD-2-Clause
// The tagged YAML codec of the store's text columns: tobjects.attrs, tokens.config and
// pobjects.config. Every input goes through all three decoders; whatever decodes must
// survive emit -> decode unchanged (what C_SetAttributeValue, objmod and config rely on).
#include <optional>
#include <string>

#include "store/attr_yaml.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace ptool;

namespace {

void
attrs_round_trip(std::string_view text)
{
  AttrMap attrs;
  if (!fuzz::accepts_yaml([&] { attrs = store::parse_attrs(text); })) {
    return;
  }
  std::string emitted = store::emit_attrs(attrs);
  AttrMap again;
  fuzz::fuzz_require(fuzz::accepts_yaml([&] { again = store::parse_attrs(emitted); }),
                     "emit_attrs wrote YAML that parse_attrs rejects");
  fuzz::fuzz_require(again == attrs, "attrs changed in emit -> parse");
  // The emitter's layout is one of the two the fast scanner exists for.
  fuzz::fuzz_require(store::parse_attrs_yaml(emitted) == again, "yaml-cpp reads emit differently");
}

void
token_config_round_trip(std::string_view text)
{
  TokenConfig config;
  if (!fuzz::accepts_yaml([&] { config = store::parse_token_config(text); })) {
    return;
  }
  std::string emitted = store::emit_token_config(config);
  TokenConfig again;
  fuzz::fuzz_require(fuzz::accepts_yaml([&] { again = store::parse_token_config(emitted); }),
                     "emit_token_config wrote YAML that parse_token_config rejects");
  fuzz::fuzz_require(
    again.token_init == config.token_init && again.pss_sigs_good == config.pss_sigs_good
      && again.empty_user_pin == config.empty_user_pin && again.tcti == config.tcti,
    "token config changed in emit -> parse");
}

void
primary_config_round_trip(std::string_view text)
{
  Primary primary;
  if (!fuzz::accepts_yaml([&] { store::parse_primary_config(text, primary); })) {
    return;
  }
  std::string emitted = store::emit_primary_config(primary);
  Primary again;
  fuzz::fuzz_require(fuzz::accepts_yaml([&] { store::parse_primary_config(emitted, again); }),
                     "emit_primary_config wrote YAML that parse_primary_config rejects");
  // The emitter writes only the field that matters for the kind of primary.
  bool same = again.transient == primary.transient
              && (primary.transient ? again.template_name == primary.template_name
                                    : again.esys_tr == primary.esys_tr);
  fuzz::fuzz_require(same, "primary config changed in emit -> parse");
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  std::string_view text = fuzz::as_text(data, size);
  attrs_round_trip(text);
  token_config_round_trip(text);
  primary_config_round_trip(text);
  return 0;
}
