// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool completion bash|zsh|fish, and the hidden queries the scripts call for live
// values: __complete-values (token labels, key labels, primary ids) and
// __complete-algorithms (the --algorithm values this TPM supports).
#include "cli/completion.hpp"

#include <iostream>
#include <memory>
#include <map>
#include <set>

#include "cli/commands.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/diagnose.hpp"
#include "core/tpm/esys.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::cli {

namespace {

const std::vector<std::string> k_tcti_examples = {"device:/dev/tpmrm0", "device:/dev/tpm0",
                                                  "tabrmd", "swtpm:host=localhost,port=2321",
                                                  "mssim:host=localhost,port=2321"};

struct CompTag
{
  ValueKind kind;
  std::vector<std::string> words;
};

// complete_as() tags, keyed by the CLI11 option (which lives as long as its App).
std::map<const CLI::Option*, CompTag>&
tags()
{
  static std::map<const CLI::Option*, CompTag> t;
  return t;
}

ValueKind
value_kind(const CLI::Option& opt, const std::string& lname, std::vector<std::string>& words)
{
  if (auto it = tags().find(&opt); it != tags().end()) {
    words = it->second.words;
    return it->second.kind;
  }
  if (opt.get_expected_max() == 0) {
    return ValueKind::k_flag;
  }
  // The usual meaning of an option name across the commands; a command whose option means
  // something else tags it (addtoken --label: a new label, not an existing one).
  if (lname == "label") {
    return ValueKind::k_labels;
  }
  if (lname == "key-label") {
    return ValueKind::k_key_labels;
  }
  if (lname == "pid") {
    return ValueKind::k_pids;
  }
  if (lname == "transient-parent") {
    words = tpm::primary_template_names();
    return ValueKind::k_words;
  }
  if (lname == "tcti") {
    words = k_tcti_examples;
    return ValueKind::k_words;
  }
  const std::string type = opt.get_type_name();
  if (type.find("DIR") != std::string::npos) {
    return ValueKind::k_dir;
  }
  if (type.find("FILE") != std::string::npos || type.find("PATH") != std::string::npos
      || lname.ends_with("-file") || lname.ends_with("-prefix")) {
    return ValueKind::k_file;
  }
  return ValueKind::k_any;
}

std::vector<CompOption>
options_of(const CLI::App& app, CompCommand* cmd)
{
  std::vector<CompOption> out;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) {
      continue; // hidden
    }
    if (opt->get_positional() && !opt->nonpositional()) {
      if (cmd) {
        std::vector<std::string> words;
        ValueKind kind = value_kind(*opt, opt->get_name(), words);
        cmd->file_positional = cmd->file_positional || kind == ValueKind::k_file;
        if (kind == ValueKind::k_words) {
          cmd->positional_words.insert(cmd->positional_words.end(), words.begin(), words.end());
        }
      }
      continue;
    }
    for (const std::string& l : opt->get_lnames()) {
      CompOption co{"--" + l, opt->get_description(), ValueKind::k_flag, {}};
      co.kind = value_kind(*opt, l, co.words);
      out.push_back(std::move(co));
    }
    for (const std::string& s : opt->get_snames()) {
      CompOption co{"-" + s, opt->get_description(), ValueKind::k_flag, {}};
      co.kind = value_kind(*opt, opt->get_lnames().empty() ? s : opt->get_lnames()[0], co.words);
      out.push_back(std::move(co));
    }
  }
  return out;
}

// Prints one value per line; any problem (no store, unreadable row) prints nothing, since a
// completion must never spill errors into the user's terminal.
void
print_values(const std::string& what, const std::optional<std::string>& label,
             const GlobalOptions& g)
{
  try {
    store::Store st = store::Store::open(store::locate(g.path), store::Store::Mode::k_read_only);
    auto ignore = [](const Error&) {};
    if (what == "labels") {
      for (const Token& t : st.tokens_skipping(ignore)) {
        if (t.label) { // empty tokens have none until C_InitToken
          std::cout << *t.label << "\n";
        }
      }
    } else if (what == "pids") {
      for (const Primary& p : st.primaries()) {
        std::cout << p.id << "\n";
      }
    } else if (what == "key-labels" && label) {
      auto token = st.token_by_label(*label);
      if (!token) {
        return;
      }
      std::set<std::string> seen;
      for (const Object& o : st.objects_skipping(token->id, ignore)) {
        const Bytes* l = keys::attr_bytes(o.attrs, ck::k_label);
        if (l && !l->empty() && seen.insert(to_string(*l)).second) {
          std::cout << to_string(*l) << "\n";
        }
      }
    }
  } catch (const std::exception&) {
    // Silently nothing (see above).
  }
}

// __complete-algorithms NAME...: the names this TPM supports (TPM2_TestParms on addkey's
// template for each, as doctor checks them), one per line. When no TPM answers within a short
// timeout, or it fails, all of them: completion then offers the full list rather than nothing.
void
print_algorithms(const std::vector<std::string>& names, const GlobalOptions& g)
{
  std::vector<std::string> out;
  try {
    tpm::EsysContext ctx(tpm::resolve_tcti(g.tcti));
    Esys_SetTimeout(ctx.get(), 1000); // ms per response: a hung TPM must not hang the shell
    for (const std::string& name : names) {
      auto alg = tpm::parse_algorithm(name);
      if (!alg || tpm::supports(ctx.get(), *alg)) {
        out.push_back(name); // a name that is not a key template (import's "rsa") stays
      }
    }
  } catch (const std::exception&) {
    out = names;
  }
  for (const std::string& name : out) {
    std::cout << name << "\n";
  }
}

} // namespace

CLI::Option*
complete_as(CLI::Option* opt, ValueKind kind, std::vector<std::string> words)
{
  tags()[opt] = CompTag{kind, std::move(words)};
  return opt;
}

CompModel
completion_model(const CLI::App& app)
{
  CompModel m;
  m.global = options_of(app, nullptr);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) {
      continue; // hidden helpers such as __complete-values
    }
    CompCommand c{sub->get_name(), sub->get_description(), {}, false, {}};
    c.options = options_of(*sub, &c);
    m.commands.push_back(std::move(c));
  }
  return m;
}

void
add_completion(CLI::App& app, const GlobalOptions& g)
{
  auto shell = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("completion", "Print a shell completion script");
  sub->footer("Example: source <(tpm2-ptool completion bash)\n"
              "         tpm2-ptool completion fish > ~/.config/fish/completions/tpm2-ptool.fish");
  complete_as(sub->add_option("shell", *shell, "bash|zsh|fish")
                ->required()
                ->check(CLI::IsMember({"bash", "zsh", "fish"})),
              ValueKind::k_words, {"bash", "zsh", "fish"});
  const CLI::App* root = &app;
  sub->callback([shell, root]() {
    CompModel m = completion_model(*root);
    std::cout << (*shell == "bash"  ? bash_script(m)
                  : *shell == "zsh" ? zsh_script(m)
                                    : fish_script(m));
  });

  auto what = std::make_shared<std::string>();
  auto label = std::make_shared<std::optional<std::string>>();
  CLI::App* values = app.add_subcommand("__complete-values", "");
  values->group("");
  values->add_option("what", *what, "labels|key-labels|pids")->required();
  values->add_option("label", *label, "token label for key-labels");
  values->callback([what, label, &g]() { print_values(*what, *label, g); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* algs = app.add_subcommand("__complete-algorithms", "");
  algs->group("");
  algs->add_option("names", *names, "--algorithm values to check against the TPM");
  algs->callback([names, &g]() { print_algorithms(*names, g); });
}

} // namespace ptool::cli
