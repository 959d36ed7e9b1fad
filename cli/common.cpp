// SPDX-License-Identifier: BSD-2-Clause
#include "cli/common.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/keys/openssh.hpp"
#include "format/utf8.hpp"

namespace ptool::cli {

namespace {

constexpr size_t k_max_secret = 1024;

// Names of every option whose value is a secret (scrubbed from argv after parsing).
// clang-format off
const char* const k_secret_flags[] = {
  "--userpin", "--sopin", "--primary-auth", "--hierarchy-auth", "--owner-auth",
  "--old",     "--new",   "--auth",         "--passin",         "--lockout-auth",
  "--endorsement-auth", "--ca-key-pass"};
// clang-format on

SecureBytes
read_all(int fd, const std::string& where)
{
  SecureBytes out;
  out.reserve(k_max_secret + 1);
  uint8_t buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw Error(ExitCode::k_general, "cannot read " + where + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    out.insert(out.end(), buf, buf + n);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (out.size() > k_max_secret) {
      throw Error(ExitCode::k_usage,
                  where + " is longer than " + std::to_string(k_max_secret) + " bytes");
    }
  }
  // One trailing newline is the file's line end, not part of the secret.
  if (!out.empty() && out.back() == '\n') {
    out.pop_back();
    if (!out.empty() && out.back() == '\r') {
      out.pop_back();
    }
  }
  return out;
}

SecureBytes
read_file_secret(const SecretOption& opt)
{
  const std::string& f = *opt.file;
  if (f == "-") {
    return read_all(STDIN_FILENO, "standard input");
  }
  Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw Error(ExitCode::k_usage,
                "cannot open " + opt.flag + "-file " + f + ": " + std::strerror(errno));
  }
  struct stat st
  {};
  if (fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO))) {
    throw Error(ExitCode::k_usage, opt.what + " file " + f + " is readable by other users",
                "chmod 600 " + f);
  }
  return read_all(fd.get(), f);
}

// The terminal state while a prompt has echo off, for the signal handlers below (only
// async-signal-safe calls in them: tcsetattr, sigaction, sigprocmask, raise, getpgrp).
struct EchoState
{
  termios saved{};  // as the user had it
  termios noecho{}; // while the PIN is typed
  volatile sig_atomic_t active = 0;
};
EchoState g_echo;

constexpr int k_fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void
raise_default(int sig)
{
  struct sigaction dfl
  {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
}

// SIGINT, SIGTERM, SIGHUP, SIGQUIT: echo back on, then die of the signal as we would have.
void
on_fatal_signal(int sig)
{
  if (g_echo.active) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_echo.saved);
  }
  raise_default(sig);
}

void install(int sig, void (*handler)(int), struct sigaction* old);

// Ctrl-Z: echo back on for the shell, then stop. SIGCONT (below) turns it off again.
void
on_stop_signal(int sig)
{
  int saved_errno = errno;
  if (g_echo.active) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_echo.saved);
  }
  raise_default(sig); // stops here until SIGCONT
  install(sig, on_stop_signal, nullptr);
  errno = saved_errno;
}

void
on_continue(int)
{
  int saved_errno = errno;
  // Only in the foreground: a background process changing the terminal would be stopped.
  if (g_echo.active && tcgetpgrp(STDIN_FILENO) == getpgrp()) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_echo.noecho);
  }
  errno = saved_errno;
}

void
install(int sig, void (*handler)(int), struct sigaction* old)
{
  struct sigaction sa
  {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; // the read() of the prompt goes on after Ctrl-Z / fg
  sigaction(sig, &sa, old);
}

// Echo off for the lifetime of the object, restored on every way out: return, exception,
// and the signals that end or stop the process (which are then re-raised).
class NoEcho
{
public:
  NoEcho()
  {
    if (tcgetattr(STDIN_FILENO, &g_echo.saved) != 0) {
      return;
    }
    g_echo.noecho = g_echo.saved;
    g_echo.noecho.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    size_t i = 0;
    for (int sig : k_fatal_signals) {
      install(sig, on_fatal_signal, &m_old[i++]);
    }
    install(SIGTSTP, on_stop_signal, &m_old[i++]);
    install(SIGCONT, on_continue, &m_old[i++]);
    g_echo.active = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_echo.noecho);
    m_on = true;
  }
  ~NoEcho()
  {
    if (!m_on) {
      return;
    }
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_echo.saved);
    g_echo.active = 0;
    size_t i = 0;
    for (int sig : k_fatal_signals) {
      sigaction(sig, &m_old[i++], nullptr);
    }
    sigaction(SIGTSTP, &m_old[i++], nullptr);
    sigaction(SIGCONT, &m_old[i++], nullptr);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

private:
  bool m_on = false;
  struct sigaction m_old[6]{};
};

SecureBytes
prompt_line(const std::string& prompt)
{
  std::cerr << prompt << std::flush;
  SecureBytes line;
  {
    NoEcho no_echo;
    char c = 0;
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n != 1 || c == '\n') {
        break;
      }
      line.push_back(static_cast<uint8_t>(c));
      if (line.size() > k_max_secret) {
        break;
      }
    }
    c = 0;
  }
  std::cerr << "\n";
  if (line.size() > k_max_secret) {
    throw Error(ExitCode::k_usage,
                "input is longer than " + std::to_string(k_max_secret) + " bytes");
  }
  return line;
}

// Secrets read from standard input or a prompt, by option, for replay_secrets().
struct Replay
{
  bool on = false;
  std::vector<std::pair<const SecretOption*, SecureBytes>> read;
};
Replay&
replay()
{
  static Replay r;
  return r;
}

const SecureBytes*
replayed(const SecretOption& opt)
{
  if (!replay().on) {
    return nullptr;
  }
  for (const auto& [o, value] : replay().read) {
    if (o == &opt) {
      return &value;
    }
  }
  return nullptr;
}

SecureBytes
remember(const SecretOption& opt, SecureBytes value)
{
  replay().read.emplace_back(&opt, value);
  return value;
}

} // namespace

void
replay_secrets()
{
  replay().on = true;
}

void
add_secret_option(CLI::App* app, SecretOption& opt, const std::string& help)
{
  app->add_option_function<std::string>(
    opt.alias.empty() ? opt.flag : opt.flag + "," + opt.alias,
    [&opt](const std::string& v) { opt.argv_value = argv_secret(v); },
    help + " (visible to other users on the command line: prefer " + opt.flag + "-file"
      + (opt.env.empty() ? std::string() : " or $" + opt.env) + ")");
  app
    ->add_option(opt.flag + "-file", opt.file,
                 "read the " + opt.what + " from FILE ('-' = standard input)")
    ->type_name("FILE");
}

// A PIN longer than any file or prompt would accept is a mistake (or an attack on memory),
// whatever its source; the message never repeats the value.
void
check_secret_size(const SecretOption& opt, size_t size, const std::string& source)
{
  if (size > k_max_secret) {
    throw Error(ExitCode::k_usage, opt.what + " from " + source + " is " + std::to_string(size)
                                     + " bytes; at most " + std::to_string(k_max_secret)
                                     + " are accepted");
  }
}

SecureBytes
read_secret(const SecretOption& opt, Prompt prompt, std::optional<std::string_view> fallback)
{
  if (opt.argv_value) {
    check_secret_size(opt, opt.argv_value->size(), opt.flag);
    static bool warned = false;
    if (!warned) {
      std::cerr << "tpm2-ptool: warning: secrets on the command line are visible to other "
                   "users; use "
                << opt.flag << "-file" << (opt.env.empty() ? "" : " or $" + opt.env)
                << " instead\n";
      warned = true;
    }
    return *opt.argv_value;
  }
  if (const SecureBytes* again = replayed(opt)) {
    return *again;
  }
  if (opt.file) {
    return remember(opt, read_file_secret(opt)); // a pipe or stdin cannot be read twice
  }
  if (!opt.env.empty()) {
    if (const char* v = std::getenv(opt.env.c_str())) {
      check_secret_size(opt, std::strlen(v), "$" + opt.env);
      return SecureBytes::from(v);
    }
  }
  if (prompt != Prompt::k_never && isatty(STDIN_FILENO)) {
    SecureBytes first = prompt_line("Enter " + opt.what + ": ");
    for (int attempt = 1; prompt == Prompt::k_new || prompt == Prompt::k_new_reask; ++attempt) {
      SecureBytes again = prompt_line("Repeat " + opt.what + ": ");
      if (again == first) {
        break;
      }
      if (prompt == Prompt::k_new || attempt == 3) {
        throw Error(ExitCode::k_usage, "the two " + opt.what + "s differ");
      }
      std::cerr << "The two " << opt.what << "s differ. Try again.\n";
      first = prompt_line("Enter " + opt.what + ": ");
    }
    return remember(opt, std::move(first));
  }
  if (fallback) {
    return SecureBytes::from(*fallback);
  }
  throw Error(ExitCode::k_usage, "no " + opt.what + " given",
              "use " + opt.flag + "-file FILE" + (opt.env.empty() ? "" : ", $" + opt.env)
                + " or run on a terminal to be prompted");
}

namespace {

// Secret option values taken out of argv before CLI11 copies it: CLI11 keeps its own
// std::string copies (its token list, option results) and frees them unwiped, so it only
// ever sees a placeholder naming an entry here. Destroyed (and wiped) at exit.
std::vector<SecureBytes>&
argv_secrets()
{
  static std::vector<SecureBytes> secrets;
  return secrets;
}

constexpr std::string_view k_placeholder = "<secret argument #";

std::string
stash(const char* value, size_t len)
{
  auto& secrets = argv_secrets();
  secrets.emplace_back(reinterpret_cast<const uint8_t*>(value),
                       reinterpret_cast<const uint8_t*>(value) + len);
  // Wiped at once, so PINs given on the command line are visible in /proc/PID/cmdline for
  // as short as possible.
  OPENSSL_cleanse(const_cast<char*>(value), len);
  return std::string(k_placeholder) + std::to_string(secrets.size() - 1) + ">";
}

} // namespace

std::string
stash_secret(std::string_view value)
{
  return stash(value.data(), value.size());
}

bool
is_secret_option(std::string_view name)
{
  return std::find(std::begin(k_secret_flags), std::end(k_secret_flags), name)
         != std::end(k_secret_flags);
}

SecureBytes
argv_secret(const std::string& value)
{
  if (value.rfind(k_placeholder, 0) == 0) {
    size_t index = std::strtoul(value.c_str() + k_placeholder.size(), nullptr, 10);
    if (index < argv_secrets().size()) {
      return argv_secrets()[index];
    }
  }
  return SecureBytes::from(value);
}

void
require_utf8(std::string_view text, const std::string& what)
{
  if (auto bad = format::first_invalid_utf8(text)) {
    throw_usage(what + " is not valid UTF-8 (byte " + std::to_string(*bad + 1) + ")",
                "PKCS#11 labels are UTF-8 text");
  }
}

store::Store
open_store(const GlobalOptions& g, store::Store::Mode mode)
{
  return store::Store::open(store::locate(g.path), mode);
}

store::Store::BadRow
warn_bad_row()
{
  return [](const Error& e) {
    std::string fix;
    if (const auto* row = dynamic_cast<const store::BadRowError*>(&e)) {
      if (row->table() == "tobjects") {
        fix = "; remove it with 'tpm2-ptool objdel " + std::to_string(row->id()) + "'";
      } else if (row->table() == "tokens" && !row->label().empty()) {
        std::string quoted;
        for (char c : keys::printable_comment(row->label())) {
          quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        fix = "; remove the token with: tpm2-ptool rmtoken --label '" + quoted + "'";
      }
    }
    std::cerr << "tpm2-ptool: warning: skipped " << keys::printable_comment(e.what()) << fix
              << "\n";
  };
}

int64_t
parse_number(const std::string& text, const char* what)
{
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 0);
  if (text.empty() || errno != 0 || *end != '\0') {
    throw_usage(std::string("invalid ") + what + " '" + text + "'",
                "give a number, e.g. 1 or 0x81000001");
  }
  return v;
}

bool
confirm(const std::string& question)
{
  std::cerr << question << " [y/N] " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) {
    return false;
  }
  return !line.empty() && (line[0] == 'y' || line[0] == 'Y');
}

bool
confirm_delete(bool yes, const std::string& question)
{
  if (yes || !isatty(STDIN_FILENO)) {
    return true;
  }
  if (confirm(question)) {
    return true;
  }
  std::cerr << "tpm2-ptool: nothing changed\n";
  return false;
}

} // namespace ptool::cli
