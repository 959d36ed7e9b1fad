// SPDX-License-Identifier: BSD-2-Clause
// cli/argv_rules over the real command table (every subcommand as main() declares it):
// argparse's prefix and repeat rules as upstream's scripts rely on them, and secret option
// values taken out of argv (wiped in place) before CLI11 sees a copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/argv_rules.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"

namespace ptool::cli {
namespace {

struct Table
{
  Table()
  {
    app.require_subcommand(1);
    app.fallthrough();
    app.add_option("--tcti", global.tcti, "tcti");
    app.add_option("--path", global.path, "path");
    add_all_commands(app, global);
    table = arg_table(app);
  }
  CLI::App app;
  GlobalOptions global;
  ArgTable table;
};

const ArgTable&
table()
{
  static Table t;
  return t.table;
}

std::string
no_secrets(std::string_view v)
{
  ADD_FAILURE() << "unexpected secret " << v;
  return "?";
}

std::vector<std::string>
normalise(std::vector<std::string> argv, const SecretSink& secret = no_secrets)
{
  std::vector<std::string_view> raw(argv.begin(), argv.end());
  return normalise_argv(raw, table(), secret).args;
}

std::string
usage_error(std::vector<std::string> argv)
{
  try {
    normalise(std::move(argv));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::k_usage);
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return {};
}

TEST(CliArgv, UniquePrefixesAreSpeltOut)
{
  // Options come out in full, once each, as `--name value`.
  EXPECT_EQ(normalise({"addtoken", "--pi=1", "--lab", "tok"}),
            (std::vector<std::string>{"addtoken", "--pid", "1", "--label", "tok"}));
  // A prefix of two options is ambiguous, as argparse says.
  std::string err = usage_error({"addkey", "--label=t", "--a", "rsa2048"});
  EXPECT_NE(err.find("ambiguous option: --a could match"), std::string::npos) << err;
}

TEST(CliArgv, TheLastOfARepeatedOptionWins)
{
  EXPECT_EQ(normalise({"listobjects", "--label", "a", "--label=b", "--lab", "c"}),
            (std::vector<std::string>{"listobjects", "--label", "c"}));
}

TEST(CliArgv, UnknownOptionsAndMissingValues)
{
  std::string err = usage_error({"listobjects", "--labl=x"});
  EXPECT_NE(err.find("--labl"), std::string::npos) << err;
  err = usage_error({"listobjects", "--label"});
  EXPECT_NE(err.find("expected one argument"), std::string::npos) << err;
}

TEST(CliArgv, SecretValuesAreWipedFromArgvAndStashed)
{
  std::string pin_arg = "--userpin=1234";
  std::string sopin = "so-secret";
  std::vector<std::string> argv = {"addtoken", "--pid=1", "--label=t", "--sopin", sopin, pin_arg};
  std::vector<std::string_view> raw(argv.begin(), argv.end());
  NormalisedArgv norm = normalise_argv(raw, table(), stash_secret);
  // The bytes of argv itself (what /proc/PID/cmdline shows) are zeroed where the values were.
  EXPECT_EQ(argv[4], std::string(sopin.size(), '\0'));
  EXPECT_EQ(argv[5], "--userpin=" + std::string(4, '\0'));
  for (const std::string& a : norm.args) {
    EXPECT_EQ(a.find("1234"), std::string::npos) << a;
    EXPECT_EQ(a.find("so-secret"), std::string::npos) << a;
  }
  // CLI11 gets placeholders, which argv_secret() turns back into the values.
  auto value_of = [&](const std::string& name) {
    auto it = std::find(norm.args.begin(), norm.args.end(), name);
    EXPECT_TRUE(it != norm.args.end() && it + 1 != norm.args.end()) << name;
    return it != norm.args.end() && it + 1 != norm.args.end() ? *(it + 1) : std::string();
  };
  EXPECT_EQ(argv_secret(value_of("--userpin")).view(), "1234");
  EXPECT_EQ(argv_secret(value_of("--sopin")).view(), "so-secret");
  EXPECT_EQ(value_of("--label"), "t");
  EXPECT_TRUE(is_secret_option("--userpin"));
  EXPECT_FALSE(is_secret_option("--label"));
}

} // namespace
} // namespace ptool::cli
