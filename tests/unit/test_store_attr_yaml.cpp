// SPDX-License-Identifier: BSD-2-Clause
// The tagged YAML dialect of the store's three YAML columns (docs/store-format.md §2.2-2.4),
// checked against text upstream tpm2_ptool 1.9.0 really wrote
// (tests/data/upstream_store_sample.txt).
#include <regex>

#include <gtest/gtest.h>

#include "core/keys/pkcs11_ids.hpp"
#include "store/attr_yaml.hpp"
#include "unit_helpers.hpp"

namespace ptool {
namespace {

using store::emit_attrs;
using store::parse_attrs;
using V = AttrValue;

// The YAML column of a "sqlite3 … SELECT …" sample, without the "id|…|" prefix columns.
std::string
sample_yaml(const std::string& command)
{
  std::string out = test::upstream_sample_output(command);
  size_t doc = out.find("---");
  std::string yaml = out.substr(doc);
  // pobjects is followed by "|''" (the objauth column)
  size_t bar = yaml.rfind("}\n|");
  if (bar != std::string::npos) {
    yaml.resize(bar + 2);
  }
  return yaml;
}

Bytes
hex(std::string_view h)
{
  auto b = from_hex(h);
  EXPECT_TRUE(b.has_value()) << h;
  return b.value_or(Bytes{});
}

TEST(AttrYaml, ParsesUpstreamTokenConfig)
{
  std::string yaml = sample_yaml("SELECT id, pid, label, config FROM tokens");
  ASSERT_EQ(yaml.substr(0, 12), "---\n!!map {\n");
  TokenConfig c = store::parse_token_config(yaml);
  EXPECT_TRUE(c.token_init);
  ASSERT_TRUE(c.pss_sigs_good.has_value());
  EXPECT_TRUE(*c.pss_sigs_good);
  EXPECT_FALSE(c.empty_user_pin);
  EXPECT_FALSE(c.tcti.has_value());
}

TEST(AttrYaml, ParsesUpstreamPrimaryConfig)
{
  std::string yaml = sample_yaml("FROM pobjects");
  Primary p;
  store::parse_primary_config(yaml, p);
  EXPECT_FALSE(p.transient);
  EXPECT_TRUE(p.template_name.empty());
  // 4-byte handle, TPM2B_NAME (0x0022 bytes), resource type 1, TPM2B_PUBLIC (0x011a bytes)
  ASSERT_EQ(p.esys_tr.size(), 4u + 2 + 0x22 + 4 + 2 + 0x11a);
  EXPECT_EQ(to_hex(std::span(p.esys_tr).first(8)), "810000010022000b");
  EXPECT_EQ(to_hex(std::span(p.esys_tr).last(4)), "272e4cb9");
}

TEST(AttrYaml, ParsesUpstreamEcPrivateObjectEveryValue)
{
  AttrMap a = parse_attrs(sample_yaml("SELECT attrs FROM tobjects WHERE id = 1"));
  const Bytes pub_blob = hex(
    "00560023000b000600720000001000100003001000207f52dcb43acd031175de6ccdfc28e4f4a5b4731e9924ea6"
    "ca6dc31775b2a98e10020b090b3864774e71cfc7e7475847753e7aaf14b25d945b71444d0f5c49c7ddaac");
  const AttrMap expected = {
    {0, V::integer(3)},
    {1, V::boolean(true)},
    {2, V::boolean(true)},
    {3, V::data(to_bytes("k1"))},
    {256, V::integer(3)},
    {257, V::data({})},
    {258, V::data(to_bytes("e3f2cdb1ef4be6ac"))},
    {259, V::boolean(true)},
    {261, V::boolean(true)},
    {263, V::boolean(false)},
    {264, V::boolean(true)},
    {265, V::boolean(false)},
    {268, V::boolean(false)},
    {272, V::data({})},
    {273, V::data({})},
    {297, V::data({})},
    {354, V::boolean(false)},
    {355, V::boolean(true)},
    {356, V::boolean(true)},
    {357, V::boolean(true)},
    {358, V::integer(4160)},
    {368, V::boolean(false)},
    {369, V::boolean(false)},
    {370, V::boolean(true)},
    {384, V::data({0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})},
    {385, V::data(hex("044104"
                      "7f52dcb43acd031175de6ccdfc28e4f4a5b4731e9924ea6ca6dc31775b2a98e1"
                      "b090b3864774e71cfc7e7475847753e7aaf14b25d945b71444d0f5c49c7ddaac"))},
    {514, V::boolean(false)},
    {528, V::boolean(false)},
    {1073742354, V::list({})},
    {1073743360, V::list({4161, 4162, 4164, 4165, 4166})},
    {2399141889,
     V::data(to_bytes("564c6b5c49c75e6206ff2873:08874a130137afd968bd48b362a1267d:"
                      "027cefc2b039898735655ad6bf76116ff4472b163bac5d19de0b5e315a33188d"))},
    {2399141890, V::data(pub_blob)},
    {2399141891,
     V::data(
       hex("007e0020b0a436039d7ddb6d7ae9fa2db65a003631682bae440fdf5d2102c9b8ba533ab70010d26ddbe"
           "d3993090a7edd16e7d3714a15bd946e66fd9b10c09b0cdddb1d19c0c9ca199f6885fd455139d648039"
           "3656545cbada15cdead03ea6386b527800795fa769770843173f622bb5299d4171d9e79d77ea6fc526c"
           "306e9741"))},
  };
  ASSERT_EQ(a.size(), 33u);
  for (const auto& [type, value] : expected) {
    ASSERT_TRUE(a.count(type)) << "missing attribute " << type;
    EXPECT_EQ(a.at(type), value) << "attribute " << type;
  }
  EXPECT_EQ(a, expected);
}

TEST(AttrYaml, ParsesUpstreamPublicObjectsWithStrAndSeqTemplates)
{
  AttrMap ec_pub = parse_attrs(sample_yaml("SELECT attrs FROM tobjects WHERE id = 2"));
  EXPECT_EQ(ec_pub.size(), 26u);
  EXPECT_EQ(ec_pub.at(ck::k_wrap_template), V::data({})); // '!!str ""' stays an empty string
  EXPECT_EQ(ec_pub.at(ck::k_class), V::integer(ck::k_o_public_key));

  AttrMap rsa_pub = parse_attrs(sample_yaml("SELECT attrs FROM tobjects WHERE id = 4"));
  EXPECT_EQ(rsa_pub.size(), 27u);
  EXPECT_EQ(rsa_pub.at(ck::k_modulus_bits), V::integer(2048));
  EXPECT_EQ(rsa_pub.at(ck::k_public_exponent), V::data({0x01, 0x00, 0x01}));
  EXPECT_EQ(rsa_pub.at(ck::k_modulus).bytes.size(), 256u);
  EXPECT_EQ(rsa_pub.at(ck::k_key_gen_mechanism), V::integer(0));
  EXPECT_EQ(rsa_pub.at(ck::k_allowed_mechanisms),
            V::list({3, 9, 1, 64, 65, 66, 13, 14, 67, 68, 69}));
}

TEST(AttrYaml, UpstreamRowsRoundTrip)
{
  for (const char* id : {"id = 1", "id = 2", "id = 4"}) {
    AttrMap a = parse_attrs(sample_yaml(std::string("SELECT attrs FROM tobjects WHERE ") + id));
    EXPECT_EQ(parse_attrs(emit_attrs(a)), a) << id;
  }
}

TEST(AttrYaml, RoundTripsEveryKind)
{
  AttrMap a = {
    {0, V::integer(0)},
    {1, V::boolean(true)},
    {2, V::boolean(false)},
    {3, V::data(to_bytes("label with spaces"))},
    {0x11, V::data({})},
    {0x121, V::integer(UINT64_MAX)},
    {ck::k_wrap_template, V::list({})},
    {ck::k_allowed_mechanisms, V::list({0x1041, 0, 0x2107})},
    {0x8f000001, V::data({0x00, 0xff, 0x10})},
  };
  EXPECT_EQ(parse_attrs(emit_attrs(a)), a);
  EXPECT_TRUE(parse_attrs(emit_attrs({})).empty());

  TokenConfig c;
  c.token_init = true;
  c.pss_sigs_good = false;
  c.empty_user_pin = true;
  c.tcti = "swtpm:host=127.0.0.1,port=2321";
  TokenConfig back = store::parse_token_config(store::emit_token_config(c));
  EXPECT_EQ(back.token_init, c.token_init);
  EXPECT_EQ(back.pss_sigs_good, c.pss_sigs_good);
  EXPECT_EQ(back.empty_user_pin, c.empty_user_pin);
  EXPECT_EQ(back.tcti, c.tcti);

  TokenConfig empty_token;
  empty_token.token_init = false;
  back = store::parse_token_config(store::emit_token_config(empty_token));
  EXPECT_FALSE(back.token_init);
  EXPECT_FALSE(back.pss_sigs_good.has_value());

  Primary persistent;
  persistent.transient = false;
  persistent.esys_tr = {0x81, 0x00, 0x00, 0x01, 0xab};
  Primary p;
  store::parse_primary_config(store::emit_primary_config(persistent), p);
  EXPECT_FALSE(p.transient);
  EXPECT_EQ(p.esys_tr, persistent.esys_tr);

  Primary transient;
  transient.transient = true;
  transient.template_name = "tpm2-tools-ecc-default";
  Primary t;
  store::parse_primary_config(store::emit_primary_config(transient), t);
  EXPECT_TRUE(t.transient);
  EXPECT_EQ(t.template_name, "tpm2-tools-ecc-default");
}

TEST(AttrYaml, AcceptsLibraryHexStringMechanisms)
{
  AttrMap a =
    parse_attrs("--- !!map {\n"
                "  ? !!int \"1073743360\"\n  : !!str \"41100000000000004210000000000000\",\n"
                "  ? !!int \"1073742353\"\n  : !!str \"\",\n"
                "  ? !!int \"1073742354\"\n  : !!seq [],\n}\n");
  EXPECT_EQ(a.at(ck::k_allowed_mechanisms), V::list({0x1041, 0x1042}));
  EXPECT_EQ(a.at(ck::k_wrap_template), V::data({}));
  EXPECT_EQ(a.at(ck::k_unwrap_template), V::list({}));

  AttrMap empty = parse_attrs("--- !!map { ? !!int \"1073743360\" : !!str \"\" }\n");
  EXPECT_EQ(empty.at(ck::k_allowed_mechanisms), V::list({}));
  AttrMap empty_seq = parse_attrs("--- !!map { ? !!int \"1073743360\" : !!seq [] }\n");
  EXPECT_EQ(empty_seq.at(ck::k_allowed_mechanisms), V::list({}));

  // Not a whole number of native CK_ULONGs.
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"1073743360\" : !!str \"411000\" }\n"),
               std::runtime_error);
}

TEST(AttrYaml, AcceptsPlainBlockStyleWithTags)
{
  // What the module was verified to load (§2.2): block style, tags on every scalar.
  AttrMap a = parse_attrs("!!int \"0\": !!int \"3\"\n!!int \"1\": !!bool \"true\"\n"
                          "!!int \"1073743360\": !!seq [!!int \"4161\", !!int \"4162\"]\n");
  EXPECT_EQ(a.at(0), V::integer(3));
  EXPECT_EQ(a.at(1), V::boolean(true));
  EXPECT_EQ(a.at(ck::k_allowed_mechanisms), V::list({4161, 4162}));
}

TEST(AttrYaml, RejectsWhatUpstreamRejects)
{
  // untagged scalars (libyaml reports a NULL tag)
  EXPECT_THROW(parse_attrs("0: 3\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"0\" : 3 }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? 0 : !!int \"3\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? \"0\" : !!int \"3\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : \"6b31\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"1073743360\" : [!!int \"1\", 2] }\n"),
               std::runtime_error);
  // non-hex and odd-length !!str
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!str \"k1\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!str \"6b3\" }\n"), std::runtime_error);
  // other tags
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!null \"\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!binary \"AAAA\" }\n"),
               std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!float \"1.5\" }\n"), std::runtime_error);
  // non-numeric or negative !!int
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"x\" : !!int \"3\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"0\" : !!int \"-1\" }\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"0\" : !!int \"\" }\n"), std::runtime_error);
  // nested maps, non-map documents, malformed YAML
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"3\" : !!map { ? !!int \"1\" : !!int \"2\" } }\n"),
               std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!seq [ !!int \"1\" ]\n"), std::runtime_error);
  EXPECT_THROW(parse_attrs("--- !!map { ? !!int \"0\" : !!int \"3\"\n"), std::runtime_error);

  // configs: unknown keys (the library fails the whole module on them), untagged values
  EXPECT_THROW(store::parse_token_config(
                 "--- !!map { ? !!str \"log-level\" : !!int \"2\", ? !!str \"token-init\" : "
                 "!!bool \"true\" }\n"),
               std::runtime_error);
  EXPECT_THROW(store::parse_token_config("--- !!map { ? !!str \"token-init\" : true }\n"),
               std::runtime_error);
  EXPECT_THROW(store::parse_token_config(
                 "--- !!map { ? !!str \"token-init\" : !!map { ? !!str \"a\" : !!str \"b\" } }\n"),
               std::runtime_error);
  // untagged keys and string values: libyaml gives them a NULL tag, which the library rejects
  EXPECT_THROW(store::parse_token_config("--- !!map { ? \"token-init\" : !!bool \"true\" }\n"),
               std::runtime_error);
  EXPECT_THROW(store::parse_token_config("--- !!map { ? !!str \"token-init\" : !!bool \"true\", "
                                         "? !!str \"tcti\" : \"mssim\" }\n"),
               std::runtime_error);
  Primary p;
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? transient : !!bool \"true\", ? !!str "
                                           "\"template-name\" : !!str \"tss2-engine-key\" }\n",
                                           p),
               std::runtime_error);
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? !!str \"transient\" : !!bool \"true\", "
                                           "? !!str \"template-name\" : tss2-engine-key }\n",
                                           p),
               std::runtime_error);
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? !!str \"transient\" : !!bool \"false\", "
                                           "? !!str \"esys-tr\" : 81000001 }\n",
                                           p),
               std::runtime_error);
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? !!str \"transient\" : !!bool \"true\", "
                                           "? !!str \"handle\" : !!str \"81000001\" }\n",
                                           p),
               std::runtime_error);
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? !!str \"transient\" : !!bool \"false\", "
                                           "? !!str \"esys-tr\" : !!str \"zz\" }\n",
                                           p),
               std::runtime_error);
  EXPECT_THROW(
    store::parse_primary_config("--- !!map { ? !!str \"transient\" : !!bool \"false\" }\n", p),
    std::runtime_error);
  EXPECT_THROW(store::parse_primary_config("--- !!map { ? !!str \"esys-tr\" : !!str \"81\" }\n", p),
               std::runtime_error);
}

TEST(AttrYaml, BoolIsTrueOnlyForExactTrue)
{
  AttrMap a = parse_attrs("--- !!map { ? !!int \"1\" : !!bool \"True\", ? !!int \"2\" : !!bool "
                          "\"yes\", ? !!int \"3\" : !!bool \"true\" }\n");
  EXPECT_EQ(a.at(1), V::boolean(false));
  EXPECT_EQ(a.at(2), V::boolean(false));
  EXPECT_EQ(a.at(3), V::boolean(true));
}

// Every scalar in emitted text carries an explicit tag, and !!int values have no leading zero
// (upstream reads them with strtoul(…, 0), which would take "010" as octal).
void
expect_tagged(const std::string& text)
{
  SCOPED_TRACE(text);
  EXPECT_EQ(text.rfind("---", 0), 0u);
  EXPECT_NE(text.find("!!map"), std::string::npos);
  // Every double-quoted scalar is directly preceded by a tag.
  std::regex quoted(R"re(("[^"]*"))re");
  size_t scalars = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), quoted);
       it != std::sregex_iterator(); ++it) {
    ++scalars;
    std::string before = text.substr(0, static_cast<size_t>(it->position()));
    std::smatch m;
    EXPECT_TRUE(std::regex_search(before, m, std::regex(R"(!!(int|bool|str) $)")))
      << "untagged scalar " << it->str();
  }
  EXPECT_GT(scalars, 0u);
  // No plain (unquoted) scalars at all: strip tags, quoted scalars and YAML punctuation.
  std::string rest = std::regex_replace(text, quoted, "");
  rest = std::regex_replace(rest, std::regex(R"(!!(int|bool|str|seq|map))"), "");
  rest = std::regex_replace(rest, std::regex(R"(---|\.\.\.|[\s{}\[\],?:])"), "");
  EXPECT_EQ(rest, "");
  EXPECT_FALSE(std::regex_search(text, std::regex(R"(!!int "0[0-9])")));
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(!!(int|bool|str) ")")));
}

TEST(AttrYaml, EmittedTextIsFullyTagged)
{
  AttrMap a = {
    {0, V::integer(0)},
    {1, V::boolean(true)},
    {3, V::data(to_bytes("k1"))},
    {8, V::integer(8)},
    {0x11, V::data({})},
    {0x121, V::integer(2048)},
    {ck::k_wrap_template, V::list({})},
    {ck::k_allowed_mechanisms, V::list({0x1041, 0x1042, 8})},
  };
  std::string text = emit_attrs(a);
  expect_tagged(text);
  EXPECT_NE(text.find("!!int \"0\""), std::string::npos);
  EXPECT_NE(text.find("!!int \"8\""), std::string::npos);
  EXPECT_NE(text.find("!!int \"2048\""), std::string::npos);
  EXPECT_NE(text.find("!!int \"4161\""), std::string::npos);
  EXPECT_NE(text.find("!!int \"1073743360\""), std::string::npos);
  EXPECT_NE(text.find("!!str \"6b31\""), std::string::npos);
  EXPECT_NE(text.find("!!str \"\""), std::string::npos);
  EXPECT_NE(text.find("!!bool \"true\""), std::string::npos);
  EXPECT_NE(text.find("!!seq []"), std::string::npos);
  EXPECT_NE(text.find("!!seq ["), std::string::npos);

  TokenConfig c;
  c.pss_sigs_good = true;
  c.empty_user_pin = true;
  c.tcti = "device:/dev/tpmrm0";
  std::string config = store::emit_token_config(c);
  expect_tagged(config);
  EXPECT_NE(config.find("!!str \"token-init\""), std::string::npos);
  EXPECT_NE(config.find("!!str \"device:/dev/tpmrm0\""), std::string::npos);

  Primary p;
  p.esys_tr = {0x81, 0, 0, 1};
  std::string pconfig = store::emit_primary_config(p);
  expect_tagged(pconfig);
  EXPECT_NE(pconfig.find("!!str \"81000001\""), std::string::npos);
  EXPECT_NE(pconfig.find("!!bool \"false\""), std::string::npos);
}

} // namespace
} // namespace ptool
