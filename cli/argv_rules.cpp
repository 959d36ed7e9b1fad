// SPDX-License-Identifier: BSD-2-Clause
// argparse's command-line rules (Python 3.11, as Debian 12's upstream tpm2_ptool 1.9.0 runs
// them) in front of CLI11. The comments name the argparse behaviour each step reproduces.
#include "cli/argv_rules.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "cli/common.hpp"
#include "core/error.hpp"

namespace ptool::cli {

namespace {

// What upstream 1.9.0 declares per subcommand (generate_options() in tpm2_pkcs11/commandlets_*.py;
// every subcommand also has -h/--help and --path). `#` marks type=int.
struct UpstreamCommand
{
  const char* name;
  std::vector<std::string> options;
};

const std::vector<UpstreamCommand>&
upstream_commands()
{
  static const std::vector<UpstreamCommand> k = {
    {"init",
     {"--hierarchy-auth", "--owner-auth", "--primary-auth", "--primary-handle",
      "--transient-parent"}},
    {"destroy", {"--pid#", "--hierarchy-auth"}},
    {"dbup", {}},
    {"rmtoken", {"--label"}},
    {"verify", {"--sopin", "--userpin", "--label", "--hierarchy-auth"}},
    {"addtoken", {"--pid#", "--sopin", "--userpin", "--label", "--hierarchy-auth"}},
    {"addemptytoken", {"--pid#", "--hierarchy-auth"}},
    {"changepin", {"--user", "--old", "--new", "--label", "--hierarchy-auth"}},
    {"initpin", {"--sopin", "--userpin", "--label", "--hierarchy-auth"}},
    {"config", {"--key", "--value", "--label"}},
    {"listprimaries", {}},
    {"listtokens", {"--pid#"}},
    {"listobjects", {"--label"}},
    {"import",
     {"--label", "--key-label", "--id", "--attr-always-authenticate", "--hierarchy-auth", "--sopin",
      "--userpin", "--privkey", "--algorithm", "--passin"}},
    {"addkey",
     {"--label", "--key-label", "--id", "--attr-always-authenticate", "--hierarchy-auth", "--sopin",
      "--userpin", "--algorithm"}},
    {"addcert", {"--label", "--key-label", "--key-id"}},
    {"objmod", {"--id", "--key", "--value", "--type"}},
    {"objdel", {}},
    {"link",
     {"--label", "--key-label", "--id", "--attr-always-authenticate", "--hierarchy-auth", "--sopin",
      "--userpin", "--auth"}},
    {"export",
     {"--id#", "--label", "--key-label", "--format", "--hierarchy-auth", "--output-prefix",
      "--sopin", "--userpin"}},
  };
  return k;
}

// Upstream's choices=, checked on every occurrence (argparse does, before a later one wins).
const std::map<std::string, std::vector<std::string>>&
upstream_choices()
{
  static const std::map<std::string, std::vector<std::string>> k = {
    {"init --transient-parent",
     {"tpm2-tools-default", "tpm2-tools-ecc-default", "tss2-engine-key"}},
    {"changepin --user", {"so", "user"}},
    {"import --algorithm",
     {"rsa", "ecc", "hmac", "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"}},
    {"addkey --algorithm",
     {"rsa1024", "rsa2048", "rsa3072", "rsa4096", "aes128", "aes256", "ecc224", "ecc256", "ecc384",
      "ecc521", "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"}},
    {"objmod --type", {"int", "str", "bool", "raw"}},
    {"export --format", {"auto", "tpm2", "pem"}},
  };
  return k;
}

// Our `--output FORMAT` is also the exact spelling of a unique prefix of upstream's
// `--output-prefix` (export): with one of these values it is ours, otherwise upstream's.
const std::vector<std::string> k_output_formats = {"yaml", "json", "text"};

ArgCommand
command_from(const CLI::App& app, const UpstreamCommand* up, bool top)
{
  ArgCommand c;
  c.name = app.get_name();
  auto upstream_name = [&](const std::string& n, bool* is_int) {
    *is_int = false;
    if (!up) {
      return false;
    }
    if (n == "--help" || n == "-h" || n == "--path") {
      return true;
    }
    for (const std::string& u : up->options) {
      if (u == n || u == n + "#") {
        *is_int = u.back() == '#';
        return true;
      }
    }
    return false;
  };
  int group = 0;
  for (const CLI::Option* o : app.get_options()) {
    ++group;
    if (o->get_positional() && !o->nonpositional()) {
      ArgPositional p;
      p.name = o->get_name();
      p.nargs = o->get_expected_max() > 1 ? '*' : o->get_required() ? '1' : '?';
      c.positionals.push_back(p);
      continue;
    }
    std::vector<std::string> names;
    for (const std::string& n : o->get_snames()) {
      names.push_back("-" + n);
    }
    for (const std::string& n : o->get_lnames()) {
      names.push_back("--" + n);
    }
    ArgOption a;
    a.group = group;
    a.help = o == app.get_help_ptr();
    a.arity = o->get_expected_max() == 0   ? Arity::k_none
              : o->get_expected_min() == 0 ? Arity::k_optional
                                           : Arity::k_one;
    // Upstream's names of one destination are separate argparse options; each ArgOption
    // holds one name so that prefixes and conflicts count names as argparse does.
    for (const std::string& n : names) {
      ArgOption one = a;
      one.names = {n};
      bool is_int = false;
      one.upstream = upstream_name(n, &is_int) || (top && (n == "--help" || n == "-h"));
      one.python_int = is_int;
      if (auto ch = upstream_choices().find(c.name + " " + n);
          up && ch != upstream_choices().end()) {
        one.choices = ch->second;
      }
      one.secret = is_secret_option(n);
      c.options.push_back(one);
    }
  }
  if (c.name == "init") {
    c.exclusive_aliases.emplace_back("--hierarchy-auth", "--owner-auth");
  }
  return c;
}

// Python's int() on a str (base 10): surrounding whitespace, a sign, digits with single
// underscores between them; leading zeros are fine. Returned in canonical decimal.
std::optional<std::string>
python_int(std::string_view s)
{
  const std::string_view ws = " \t\n\v\f\r";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) {
    return std::nullopt;
  }
  s = s.substr(b, s.find_last_not_of(ws) - b + 1);
  std::string sign;
  if (s[0] == '+' || s[0] == '-') {
    sign = s[0] == '-' ? "-" : "";
    s.remove_prefix(1);
  }
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits += s[i];
    } else if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_' && s[i + 1] >= '0'
               && s[i + 1] <= '9') {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty()) {
    return std::nullopt;
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  return (digits == "0" ? "" : sign) + digits;
}

bool
starts_with(std::string_view s, std::string_view p)
{
  return s.substr(0, p.size()) == p;
}

[[noreturn]] void
usage(const std::string& command, const std::string& what, std::string hint = {})
{
  if (hint.empty()) {
    hint = "see 'tpm2-ptool " + (command.empty() ? std::string() : command + " ") + "--help'";
  }
  throw Error(ExitCode::k_usage, what, hint);
}

// The closest of `candidates` to `word`, if close enough to be a likely typo.
std::vector<std::string>
suggestions(std::string_view word, const std::vector<std::string>& candidates)
{
  std::vector<std::string> prefixed;
  for (const std::string& c : candidates) {
    if (word.size() >= 2 && starts_with(c, word)) {
      prefixed.push_back(c);
    }
  }
  if (!prefixed.empty()) {
    return prefixed;
  }
  size_t best = std::string::npos;
  std::vector<std::string> out;
  // Dashes do not count: "--shell" is not near "--help".
  auto bare = [](std::string_view w) {
    return w.substr(std::min(w.find_first_not_of('-'), w.size()));
  };
  word = bare(word);
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, bare(c));
    if (d < best) {
      best = d;
      out = {c};
    } else if (d == best) {
      out.push_back(c);
    }
  }
  size_t limit = std::max<size_t>(1, word.size() / 3);
  if (best > limit || out.size() > 3) {
    out.clear();
  }
  return out;
}

std::string
did_you_mean(const std::vector<std::string>& s)
{
  if (s.empty()) {
    return {};
  }
  std::string out = " (did you mean ";
  for (size_t i = 0; i < s.size(); ++i) {
    out += (i ? (i + 1 == s.size() ? " or '" : ", '") : "'") + s[i] + "'";
  }
  return out + "?)";
}

enum class Kind { k_arg, k_option, k_dashdash };

struct Token
{
  Kind kind = Kind::k_arg;
  int option = -1; // index into ArgCommand::options; -1: an unknown option
  std::optional<std::string_view> explicit_arg;
  int shadowed_by = -1; // export --output: the upstream option it may mean instead
};

// One parser's run over its arguments (argparse's _parse_known_args).
class Parser
{
public:
  Parser(const ArgCommand& cmd, const std::vector<std::string_view>& args, const SecretSink& secret)
      : cmd_(cmd), args_(args), secret_(secret)
  {}

  struct Result
  {
    bool help = false;
    std::vector<int> order;                           // options set, in first-seen order
    std::map<int, std::optional<std::string>> values; // by option index (dest), last wins
    std::vector<std::string> positionals;
  };

  Result run();
  Token classify(std::string_view arg) const;

private:
  int find_exact(std::string_view name) const;
  size_t consume_optional(size_t i);
  size_t consume_positionals(size_t start);
  void take(int option, std::optional<std::string_view> value);
  [[noreturn]] void fail(const std::string& what) const { usage(cmd_.name, what); }
  std::string name(int option) const { return cmd_.options[static_cast<size_t>(option)].names[0]; }
  int dest(int option) const;

  const ArgCommand& cmd_;
  const std::vector<std::string_view>& args_;
  const SecretSink& secret_;
  std::vector<Token> tokens_;
  std::string pattern_;
  std::vector<ArgPositional> positionals_;
  std::vector<size_t> extras_;
  std::set<std::string> seen_non_default_;
  Result result_;
};

int
Parser::find_exact(std::string_view name) const
{
  for (size_t i = 0; i < cmd_.options.size(); ++i) {
    if (cmd_.options[i].names[0] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// The names of one CLI11 option (--yes and -y, --hierarchy-auth and --owner-auth) are one
// destination: its first name's entry.
int
Parser::dest(int option) const
{
  int group = cmd_.options[static_cast<size_t>(option)].group;
  for (size_t i = 0; i < cmd_.options.size(); ++i) {
    if (cmd_.options[i].group == group) {
      return static_cast<int>(i);
    }
  }
  return option;
}

// argparse's _parse_optional / _get_option_tuples.
Token
Parser::classify(std::string_view arg) const
{
  Token t;
  if (arg.empty() || arg[0] != '-') {
    return t;
  }
  if (int o = find_exact(arg); o >= 0) {
    t.kind = Kind::k_option;
    t.option = o;
    // Ours, spelt like a unique prefix of upstream's: decided by its value (see above).
    if (!cmd_.options[static_cast<size_t>(o)].upstream) {
      std::vector<int> up;
      for (size_t i = 0; i < cmd_.options.size(); ++i) {
        const ArgOption& c = cmd_.options[i];
        if (c.upstream && c.names[0] != arg && starts_with(c.names[0], arg)) {
          up.push_back(static_cast<int>(i));
        }
      }
      if (up.size() == 1) {
        t.shadowed_by = up[0];
      }
    }
    return t;
  }
  if (arg.size() == 1) {
    return t; // "-" is an argument
  }
  size_t eq = arg.find('=');
  if (eq != std::string_view::npos) {
    if (int o = find_exact(arg.substr(0, eq)); o >= 0) {
      t.kind = Kind::k_option;
      t.option = o;
      t.explicit_arg = arg.substr(eq + 1);
      return t;
    }
  }
  // Unique prefixes of long options; "-hX" is -h with the explicit argument "X".
  struct Match
  {
    int option;
    std::optional<std::string_view> explicit_arg;
  };
  std::vector<Match> all;
  if (arg[1] == '-') {
    std::string_view prefix = eq == std::string_view::npos ? arg : arg.substr(0, eq);
    std::optional<std::string_view> explicit_arg;
    if (eq != std::string_view::npos) {
      explicit_arg = arg.substr(eq + 1);
    }
    for (size_t i = 0; i < cmd_.options.size(); ++i) {
      if (starts_with(cmd_.options[i].names[0], prefix)) {
        all.push_back({static_cast<int>(i), explicit_arg});
      }
    }
  } else {
    for (size_t i = 0; i < cmd_.options.size(); ++i) {
      const std::string& n = cmd_.options[i].names[0];
      if (n == arg.substr(0, 2)) {
        all.push_back({static_cast<int>(i), arg.substr(2)});
      } else if (starts_with(n, arg)) {
        all.push_back({static_cast<int>(i), std::nullopt});
      }
    }
  }
  // Upstream's options keep the meaning upstream gives an abbreviation; ours are matched only
  // where no upstream option is.
  std::vector<Match> up;
  std::copy_if(all.begin(), all.end(), std::back_inserter(up), [&](const Match& m) {
    return cmd_.options[static_cast<size_t>(m.option)].upstream;
  });
  const std::vector<Match>& matches = up.empty() ? all : up;
  if (matches.size() > 1) {
    std::string names;
    for (const Match& m : matches) {
      names += (names.empty() ? "" : ", ") + name(m.option);
    }
    std::string shown(arg.substr(0, std::min(eq, arg.size())));
    fail("ambiguous option: " + shown + " could match " + names);
  }
  if (matches.size() == 1) {
    t.kind = Kind::k_option;
    t.option = matches[0].option;
    t.explicit_arg = matches[0].explicit_arg;
    return t;
  }
  // A negative number, or anything with a space, is an argument (no option looks like one).
  static const std::regex k_negative(R"(^-\d+$|^-\d*\.\d+$)");
  if (std::regex_match(arg.begin(), arg.end(), k_negative)
      || arg.find(' ') != std::string_view::npos) {
    return t;
  }
  t.kind = Kind::k_option; // unknown
  return t;
}

void
Parser::take(int option, std::optional<std::string_view> value)
{
  const ArgOption& o = cmd_.options[static_cast<size_t>(option)];
  if (o.help) {
    result_.help = true;
    return;
  }
  // argparse's mutually exclusive group of two names for one destination: a value other
  // than the default "" conflicts with one given under the other name.
  for (const auto& [a, b] : cmd_.exclusive_aliases) {
    const std::string& me = o.names[0];
    if (me != a && me != b) {
      continue;
    }
    const std::string& other = me == a ? b : a;
    if (value && !value->empty()) {
      if (seen_non_default_.count(other)) {
        fail("argument " + me + ": not allowed with argument " + other);
      }
      seen_non_default_.insert(me);
    }
  }
  std::optional<std::string> stored;
  if (value && !o.choices.empty()
      && std::find(o.choices.begin(), o.choices.end(), *value) == o.choices.end()) {
    std::string list;
    for (const std::string& c : o.choices) {
      list += (list.empty() ? "'" : ", '") + c + "'";
    }
    std::string what = "argument " + o.names[0] + ": invalid choice: '" + std::string(*value)
                       + "' (choose from " + list + ")";
    if (o.names[0] == "--algorithm") {
      // argparse's verdict and exit status, with what a newcomer needs to hear.
      std::string lower;
      for (char ch : *value) {
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      bool edwards = lower.starts_with("ed25519") || lower.starts_with("ed448")
                     || lower.starts_with("x25519") || lower.starts_with("curve25519");
      usage(cmd_.name, what,
            edwards ? "TPMs do not do Ed25519/Ed448 (TPM 2.0 has only NIST and BN curves): for an "
                      "SSH key use --algorithm ecc256; 'tpm2-ptool doctor' lists what this TPM "
                      "supports"
                    : "'tpm2-ptool doctor' lists the algorithms this TPM supports");
    }
    fail(what);
  }
  if (value) {
    if (o.python_int) {
      auto v = python_int(*value);
      if (!v) {
        fail("argument " + o.names[0] + ": invalid int value: '" + std::string(*value) + "'");
      }
      stored = *v;
    } else if (o.secret) {
      stored = secret_(*value);
    } else {
      stored = std::string(*value);
    }
  } else if (o.arity == Arity::k_none) {
    stored = std::nullopt;
  }
  int d = dest(option);
  if (!result_.values.count(d)) {
    result_.order.push_back(d);
  }
  result_.values[d] = std::move(stored);
}

size_t
Parser::consume_optional(size_t i)
{
  Token t = tokens_[i];
  if (t.option < 0) {
    extras_.push_back(i);
    return i + 1;
  }
  for (;;) {
    const ArgOption& o = cmd_.options[static_cast<size_t>(t.option)];
    const std::string& n = o.names[0];
    if (t.explicit_arg) {
      if (o.arity == Arity::k_none) {
        // "-yh": flags given together after one dash.
        if (n[1] != '-' && !t.explicit_arg->empty()) {
          take(t.option, std::nullopt);
          int next = find_exact(std::string("-") + (*t.explicit_arg)[0]);
          if (next < 0) {
            fail("argument " + n + ": ignored explicit argument '" + std::string(*t.explicit_arg)
                 + "'");
          }
          std::string_view rest = t.explicit_arg->substr(1);
          t.option = next;
          t.explicit_arg = rest.empty() ? std::nullopt : std::optional<std::string_view>(rest);
          if (result_.help) {
            return i + 1;
          }
          continue;
        }
        fail("argument " + n + ": ignored explicit argument '" + std::string(*t.explicit_arg)
             + "'");
      }
      if (o.arity == Arity::k_optional && t.explicit_arg->empty()) {
        fail("argument " + n + ": expected a value after '='");
      }
      take(t.option, t.explicit_arg);
      return i + 1;
    }
    size_t avail = 0;
    while (i + 1 + avail < tokens_.size() && pattern_[i + 1 + avail] == 'A') {
      ++avail;
    }
    if (o.arity == Arity::k_none) {
      take(t.option, std::nullopt);
      return i + 1;
    }
    if (o.arity == Arity::k_one && avail == 0) {
      fail("argument " + n + ": expected one argument");
    }
    if (avail == 0) {
      take(t.option, std::nullopt);
      return i + 1;
    }
    take(t.option, args_[i + 1]);
    return i + 2;
  }
}

// argparse's consume_positionals / _match_arguments_partial: as many positionals as match
// the pattern from `start`, each taking what its nargs allows, greedily.
size_t
Parser::consume_positionals(size_t start)
{
  std::string rest = pattern_.substr(start);
  for (size_t n = positionals_.size(); n > 0; --n) {
    std::string re;
    for (size_t k = 0; k < n; ++k) {
      char nargs = positionals_[k].nargs;
      re += nargs == '1' ? "(-*A-*)" : nargs == '?' ? "(-*A?-*)" : "(-*[A-]*)";
    }
    std::smatch m;
    if (!std::regex_search(rest, m, std::regex(re), std::regex_constants::match_continuous)) {
      continue;
    }
    for (size_t k = 0; k < n; ++k) {
      size_t len = static_cast<size_t>(m.length(static_cast<int>(k) + 1));
      bool removed = false; // _get_values drops the first "--" of each positional's strings
      for (size_t j = start; j < start + len; ++j) {
        if (tokens_[j].kind == Kind::k_dashdash && !removed) {
          removed = true;
          continue;
        }
        result_.positionals.emplace_back(args_[j]);
      }
      start += len;
    }
    positionals_.erase(positionals_.begin(), positionals_.begin() + static_cast<long>(n));
    return start;
  }
  return start;
}

Parser::Result
Parser::run()
{
  bool dashdash = false;
  for (std::string_view a : args_) {
    Token t;
    if (dashdash) {
      t.kind = Kind::k_arg;
    } else if (a == "--") {
      t.kind = Kind::k_dashdash;
      dashdash = true;
    } else {
      t = classify(a);
    }
    tokens_.push_back(t);
    pattern_ += t.kind == Kind::k_arg ? 'A' : t.kind == Kind::k_option ? 'O' : '-';
  }
  // export --output: ours only with one of our formats as its value.
  for (size_t i = 0; i < tokens_.size(); ++i) {
    Token& t = tokens_[i];
    if (t.shadowed_by < 0) {
      continue;
    }
    std::optional<std::string_view> v = t.explicit_arg;
    if (!v && i + 1 < tokens_.size() && pattern_[i + 1] == 'A') {
      v = args_[i + 1];
    }
    if (!v
        || std::find(k_output_formats.begin(), k_output_formats.end(), *v)
             == k_output_formats.end()) {
      t.option = t.shadowed_by;
    }
  }
  positionals_ = cmd_.positionals;
  std::vector<size_t> option_indices;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].kind == Kind::k_option) {
      option_indices.push_back(i);
    }
  }
  size_t start = 0;
  while (!option_indices.empty() && start <= option_indices.back() && !result_.help) {
    size_t next = *std::lower_bound(option_indices.begin(), option_indices.end(), start);
    if (start != next) {
      size_t end = consume_positionals(start);
      if (end > start) {
        start = end;
        continue;
      }
    }
    for (; start < next; ++start) {
      extras_.push_back(start);
    }
    start = consume_optional(start);
  }
  if (result_.help) {
    return result_;
  }
  size_t stop = consume_positionals(start);
  for (size_t i = stop; i < tokens_.size(); ++i) {
    extras_.push_back(i);
  }
  // Unrecognized arguments (argparse: "unrecognized arguments: ..."), the first one named.
  for (size_t i : extras_) {
    if (tokens_[i].kind == Kind::k_dashdash) {
      continue;
    }
    std::string_view a = args_[i];
    if (tokens_[i].kind == Kind::k_option) {
      std::string shown(a.substr(0, a.find('=')));
      std::vector<std::string> names;
      for (const ArgOption& o : cmd_.options) {
        names.push_back(o.names[0]);
      }
      std::string where = cmd_.name.empty() ? std::string() : " for '" + cmd_.name + "'";
      fail("unrecognized option '" + shown + "'" + where + did_you_mean(suggestions(shown, names)));
    }
    fail("unrecognized argument '" + std::string(a) + "'"
         + (cmd_.name.empty() ? std::string() : " for '" + cmd_.name + "'"));
  }
  return result_;
}

void
emit(const ArgCommand& cmd, const Parser::Result& r, std::vector<std::string>& out)
{
  // CLI11 takes the token after `--name` as its value whatever it looks like; an option
  // without its optional value goes last, where nothing can be taken for it.
  std::vector<int> later;
  for (int o : r.order) {
    const ArgOption& a = cmd.options[static_cast<size_t>(o)];
    const std::optional<std::string>& v = r.values.at(o);
    if (a.arity == Arity::k_optional && !v) {
      later.push_back(o);
      continue;
    }
    if (a.arity == Arity::k_none) {
      out.push_back(a.names[0]);
    } else if (a.arity == Arity::k_optional) {
      out.push_back(a.names[0] + "=" + *v);
    } else {
      out.push_back(a.names[0]);
      out.push_back(*v);
    }
  }
  for (int o : later) {
    out.push_back(cmd.options[static_cast<size_t>(o)].names[0]);
  }
  if (!r.positionals.empty()) {
    out.emplace_back("--");
    out.insert(out.end(), r.positionals.begin(), r.positionals.end());
  }
}

} // namespace

size_t
edit_distance(std::string_view a, std::string_view b)
{
  // Optimal string alignment: a swap of two neighbours ("lable") counts as one edit.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

ArgTable
arg_table(const CLI::App& app)
{
  ArgTable t;
  t.top = command_from(app, nullptr, true);
  t.top.name.clear();
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const UpstreamCommand* up = nullptr;
    for (const UpstreamCommand& u : upstream_commands()) {
      if (sub->get_name() == u.name) {
        up = &u;
      }
    }
    // --tcti and --path are also accepted after the command (upstream's --path is a
    // subcommand option; CLI11 reaches the top-level ones by fallthrough).
    auto add_globals = [&](ArgCommand& c) {
      for (const ArgOption& g : t.top.options) {
        if (!g.help && g.arity == Arity::k_one) {
          ArgOption p = g;
          p.parent = true;
          p.group += 1000;
          p.upstream = up && p.names[0] == "--path";
          c.options.push_back(p);
        }
      }
    };
    ArgCommand c = command_from(*sub, up, false);
    add_globals(c);
    for (const CLI::App* child : sub->get_subcommands([](const CLI::App*) { return true; })) {
      ArgCommand cc = command_from(*child, nullptr, false);
      cc.name = sub->get_name() + " " + cc.name; // messages name the whole command
      add_globals(cc);
      c.children.push_back(std::move(cc));
    }
    t.commands.push_back(std::move(c));
  }
  return t;
}

NormalisedArgv
normalise_argv(const std::vector<std::string_view>& argv, const ArgTable& table,
               const SecretSink& secret)
{
  NormalisedArgv out;
  std::vector<std::string> names;
  for (const ArgCommand& c : table.commands) {
    if (!c.name.empty() && c.name[0] != '_') {
      names.push_back(c.name);
    }
  }
  // The top level: its options, then the command; the command's parser gets the rest.
  size_t cmd_at = 0;
  {
    std::vector<std::string_view> none;
    Parser scan(table.top, none, secret);
    while (cmd_at < argv.size()) {
      std::string_view a = argv[cmd_at];
      if (a == "--") {
        usage("", "a command is expected before '--'");
      }
      Token t = scan.classify(a);
      if (t.kind == Kind::k_arg) {
        break;
      }
      ++cmd_at;
      if (t.option >= 0 && !t.explicit_arg
          && table.top.options[static_cast<size_t>(t.option)].arity == Arity::k_one
          && cmd_at < argv.size()) {
        ++cmd_at; // its value (the parser below says if it cannot be one)
      }
    }
    std::vector<std::string_view> head(argv.begin(), argv.begin() + static_cast<long>(cmd_at));
    Parser top(table.top, head, secret);
    Parser::Result r = top.run();
    if (r.help) {
      out.args = {"--help"};
      return out;
    }
    for (int o : r.order) {
      if (table.top.options[static_cast<size_t>(o)].names[0] == "--version") {
        out.args = {"--version"};
        return out;
      }
    }
    emit(table.top, r, out.args);
    if (cmd_at == argv.size()) {
      out.no_command = true;
      return out;
    }
  }
  std::string name(argv[cmd_at]);
  std::vector<std::string_view> rest(argv.begin() + static_cast<long>(cmd_at) + 1, argv.end());
  // `tpm2-ptool help [COMMAND]` is `tpm2-ptool [COMMAND] --help`.
  if (name == "help") {
    if (rest.empty()) {
      out.args.emplace_back("--help");
      return out;
    }
    name = std::string(rest[0]);
    rest = {"--help"};
  }
  const ArgCommand* cmd = nullptr;
  for (const ArgCommand& c : table.commands) {
    if (c.name == name) {
      cmd = &c;
    }
  }
  if (!cmd) {
    // No abbreviations of commands (argparse has none).
    usage("", "unknown command '" + name + "'" + did_you_mean(suggestions(name, names)),
          "see 'tpm2-ptool --help' for the commands");
  }
  out.command = name;
  std::vector<std::string> words{name};
  if (!cmd->children.empty()) {
    // A command of commands (`attest enroll`): its next word names one (no abbreviations).
    if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
      out.args.push_back(name);
      out.args.emplace_back("--help");
      return out;
    }
    std::string child(rest[0]);
    std::vector<std::string> child_names;
    const ArgCommand* found = nullptr;
    for (const ArgCommand& c : cmd->children) {
      child_names.push_back(c.name.substr(name.size() + 1));
      if (c.name == name + " " + child) {
        found = &c;
      }
    }
    if (!found) {
      usage(name, "unknown command '" + name + " " + child + "'"
                    + did_you_mean(suggestions(child, child_names)));
    }
    cmd = found;
    rest.erase(rest.begin());
    words.push_back(child);
    out.command = name + " " + child;
  }
  Parser p(*cmd, rest, secret);
  Parser::Result r = p.run();
  // Global options given after the command go before it (the last occurrence wins).
  Parser::Result own;
  own.help = r.help;
  own.positionals = r.positionals;
  for (int o : r.order) {
    const ArgOption& a = cmd->options[static_cast<size_t>(o)];
    if (!a.parent) {
      own.order.push_back(o);
      own.values[o] = r.values.at(o);
      continue;
    }
    auto& g = out.args; // pairs: the top level's options all take a value
    for (size_t i = 0; i + 1 < g.size(); i += 2) {
      if (g[i] == a.names[0]) {
        g.erase(g.begin() + static_cast<long>(i), g.begin() + static_cast<long>(i) + 2);
        break;
      }
    }
    g.push_back(a.names[0]);
    g.push_back(*r.values.at(o));
  }
  out.args.insert(out.args.end(), words.begin(), words.end());
  if (r.help) {
    out.args.emplace_back("--help");
    return out;
  }
  emit(*cmd, own, out.args);
  return out;
}

} // namespace ptool::cli
