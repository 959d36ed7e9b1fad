// SPDX-License-Identifier: BSD-2-Clause
// tpm2-ptool completion bash|zsh|fish, and the hidden __complete-values query the scripts
// call for live values (token labels, key labels, primary ids).
#include "cli/completion.hpp"

#include <iostream>
#include <memory>
#include <regex>
#include <set>

#include "cli/commands.hpp"
#include "core/keys/attributes.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "core/tpm/templates.hpp"

namespace ptool::cli {

namespace {

const std::vector<std::string> k_tcti_examples = {"device:/dev/tpmrm0", "device:/dev/tpm0",
                                                  "tabrmd", "swtpm:host=localhost,port=2321",
                                                  "mssim:host=localhost,port=2321"};

// Help texts list closed value sets as `a|b|c` (addkey --algorithm, export --format); that
// is the single source for those values.
std::vector<std::string>
choices_in(const std::string& help)
{
  static const std::regex k_choice(R"((^|[\s(])([A-Za-z0-9:_.-]+(\|[A-Za-z0-9:_.-]+)+))");
  std::smatch m;
  std::vector<std::string> out;
  if (std::regex_search(help, m, k_choice)) {
    std::string list = m[2].str();
    size_t start = 0;
    for (size_t bar = list.find('|');; bar = list.find('|', start)) {
      out.push_back(list.substr(start, bar - start));
      if (bar == std::string::npos) {
        break;
      }
      start = bar + 1;
    }
  }
  return out;
}

ValueKind
value_kind(const CLI::Option& opt, const std::string& lname, std::vector<std::string>& words)
{
  if (opt.get_expected_max() == 0) {
    return ValueKind::k_flag;
  }
  const std::string& help = opt.get_description();
  const std::string type = opt.get_type_name();
  if (lname == "label") {
    // A new token's label ("unique") is not one of the existing ones.
    return help.find("unique") == std::string::npos ? ValueKind::k_labels : ValueKind::k_any;
  }
  if (lname == "key-label") {
    return ValueKind::k_key_labels;
  }
  if (lname == "pid") {
    return ValueKind::k_pids;
  }
  if (lname == "algorithm") {
    // addkey lists its names in the help; another command's (import) may differ.
    words = choices_in(help);
    if (words.empty()) {
      words = tpm::algorithm_names();
    }
    return ValueKind::k_words;
  }
  if (lname == "transient-parent") {
    words = tpm::primary_template_names();
    return ValueKind::k_words;
  }
  if (lname == "tcti") {
    words = k_tcti_examples;
    return ValueKind::k_words;
  }
  if (type.find("DIR") != std::string::npos) {
    return ValueKind::k_dir;
  }
  if (type.find("FILE") != std::string::npos || type.find("PATH") != std::string::npos
      || lname.ends_with("-file") || lname.ends_with("-prefix")
      || std::regex_search(help, std::regex(R"((^|\s)file\b)"))) {
    return ValueKind::k_file;
  }
  words = choices_in(help);
  return words.empty() ? ValueKind::k_any : ValueKind::k_words;
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
        const std::string& help = opt->get_description();
        cmd->file_positional = cmd->file_positional || help.find("file") != std::string::npos;
        std::vector<std::string> words = choices_in(help);
        cmd->positional_words.insert(cmd->positional_words.end(), words.begin(), words.end());
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

} // namespace

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
  sub->add_option("shell", *shell, "bash|zsh|fish")
    ->required()
    ->check(CLI::IsMember({"bash", "zsh", "fish"}));
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
}

} // namespace ptool::cli
