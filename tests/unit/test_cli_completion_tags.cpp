// SPDX-License-Identifier: BSD-2-Clause
// What an option completes to comes from its tag (complete_as) or its name, never from its
// help text: rewording help cannot change completion.
#include <string>

#include <gtest/gtest.h>

#include "cli/completion.hpp"

namespace ptool::cli {
namespace {

const CompOption*
find(const CompModel& m, const std::string& cmd, const std::string& opt)
{
  for (const CompCommand& c : m.commands) {
    if (c.name != cmd) {
      continue;
    }
    for (const CompOption& o : c.options) {
      if (o.name == opt) {
        return &o;
      }
    }
  }
  return nullptr;
}

TEST(CompletionTags, HelpTextDecidesNothing)
{
  CLI::App app("t");
  std::string a, b, c, d, e, f;
  CLI::App* mk = app.add_subcommand("mk", "make a thing");
  // Help words that used to decide: "unique", "a|b", "file".
  mk->add_option("--label", a, "token label, unique, at most 31 bytes");
  mk->add_option("--mode", b, "fast|slow");
  mk->add_option("--note", c, "a file name, or any text");
  complete_as(mk->add_option("--name", d, "label of the token"), ValueKind::k_any);
  complete_as(mk->add_option("--speed", e, "how fast"), ValueKind::k_words, {"fast", "slow"});
  complete_as(mk->add_option("--algorithm", f, "rsa2048|ecc256"), ValueKind::k_algorithms,
              {"ecc256"});
  CompModel m = completion_model(app);

  ASSERT_NE(find(m, "mk", "--label"), nullptr);
  EXPECT_EQ(find(m, "mk", "--label")->kind, ValueKind::k_labels); // by name, not "unique"
  EXPECT_EQ(find(m, "mk", "--mode")->kind, ValueKind::k_any);     // no tag: no words
  EXPECT_EQ(find(m, "mk", "--note")->kind, ValueKind::k_any);     // no tag, no FILE type
  EXPECT_EQ(find(m, "mk", "--name")->kind, ValueKind::k_any);
  EXPECT_EQ(find(m, "mk", "--speed")->kind, ValueKind::k_words);
  EXPECT_EQ(find(m, "mk", "--speed")->words, (std::vector<std::string>{"fast", "slow"}));
  EXPECT_EQ(find(m, "mk", "--algorithm")->kind, ValueKind::k_algorithms);
  EXPECT_EQ(find(m, "mk", "--algorithm")->words, (std::vector<std::string>{"ecc256"}));
}

TEST(CompletionTags, TagOverridesTheNameAndTypeNamesFiles)
{
  CLI::App app("t");
  std::string a, b, c;
  CLI::App* mk = app.add_subcommand("mk", "make a thing");
  complete_as(mk->add_option("--label", a, "label of the token"), ValueKind::k_any);
  mk->add_option("--in", b, "input")->type_name("FILE");
  mk->add_option("--key-file", c, "input");
  CompModel m = completion_model(app);
  EXPECT_EQ(find(m, "mk", "--label")->kind, ValueKind::k_any);
  EXPECT_EQ(find(m, "mk", "--in")->kind, ValueKind::k_file);
  EXPECT_EQ(find(m, "mk", "--key-file")->kind, ValueKind::k_file);
}

} // namespace
} // namespace ptool::cli
