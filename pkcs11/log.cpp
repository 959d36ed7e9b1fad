// SPDX-License-Identifier: BSD-2-Clause
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pkcs11/p11.hpp"

namespace ptool::p11 {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::k_error)};

// Messages quote store contents (a token's tcti, labels) and land on the host application's
// terminal: control bytes and non-ASCII become \xNN, so a crafted store cannot send escape
// sequences, and a message is cut at k_max_message bytes.
constexpr std::size_t k_max_message = 512;

std::string
printable(const std::string& message)
{
  static const char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(message.size(), k_max_message) + 16);
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (out.size() >= k_max_message) {
      out += "... (" + std::to_string(message.size() - i) + " more bytes)";
      break;
    }
    const auto c = static_cast<unsigned char>(message[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += k_hex[c >> 4];
      out += k_hex[c & 0xf];
    }
  }
  return out;
}

} // namespace

void
log_init()
{
  const char* v = std::getenv("TPM2_PTOOL_LOG");
  LogLevel level = LogLevel::k_error;
  if (v) {
    if (!std::strcmp(v, "debug")) {
      level = LogLevel::k_debug;
    } else if (!std::strcmp(v, "info")) {
      level = LogLevel::k_info;
    } else if (!std::strcmp(v, "warn")) {
      level = LogLevel::k_warn;
    } else if (!std::strcmp(v, "off") || !std::strcmp(v, "none")) {
      level = LogLevel::k_off;
    }
  }
  g_level = static_cast<int>(level);
}

bool
log_enabled(LogLevel level)
{
  return static_cast<int>(level) >= g_level.load();
}

void
log(LogLevel level, const std::string& message)
{
  if (!log_enabled(level)) {
    return;
  }
  static const char* const k_names[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "tpm2-ptool-pkcs11 %s: %s\n", k_names[static_cast<int>(level)],
               printable(message).c_str());
}

} // namespace ptool::p11
