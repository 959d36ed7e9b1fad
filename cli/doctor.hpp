// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "core/model.hpp"

namespace ptool::cli {

// The lines of `tpm2-ptool doctor`: a tag, the finding, and what to do about it.
class Report
{
public:
  void ok(const std::string& text) { line("OK  ", text, {}); }
  void warn(const std::string& text, const std::string& hint) { line("WARN", text, hint); }
  void fail(const std::string& text, const std::string& hint)
  {
    ++m_fails;
    line("FAIL", text, hint);
  }
  int fails() const { return m_fails; }

private:
  static void line(const char* tag, const std::string& text, const std::string& hint)
  {
    std::cout << tag << "  " << text << "\n";
    if (!hint.empty()) {
      std::cout << "      hint: " << hint << "\n";
    }
  }
  int m_fails = 0;
};

// The store's primaries (to tell whose persistent handles are whose); empty when there is no
// readable store (check_store reports why).
std::vector<Primary> doctor_primaries(const GlobalOptions& g);
void check_store(Report& r, const GlobalOptions& g);
// The module, the upstream module and OpenSSH.
void check_tools(Report& r);

} // namespace ptool::cli
