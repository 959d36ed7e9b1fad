// SPDX-License-Identifier: BSD-2-Clause
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pkcs11/p11.hpp"

namespace ptool::p11 {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::k_error)};

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
               message.c_str());
}

} // namespace ptool::p11
