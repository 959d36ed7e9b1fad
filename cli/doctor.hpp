// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "cli/pyyaml.hpp"
#include "core/model.hpp"

namespace ptool::cli {

// The lines of `tpm2-ptool doctor`: a tag, the finding, and what to do about it. With
// --output json the findings are collected instead and printed as one array at the end.
// A stable name for what a finding is about, from the start of its text ("tcti", "store", …;
// "other" for anything new), so JSON consumers need not parse messages.
std::string doctor_check_name(const std::string& text);

class Report
{
public:
  explicit Report(bool json = false) : m_json(json) {}
  void ok(const std::string& text) { line("OK  ", text, {}); }
  void warn(const std::string& text, const std::string& hint) { line("WARN", text, hint); }
  void fail(const std::string& text, const std::string& hint)
  {
    ++m_fails;
    line("FAIL", text, hint);
  }
  int fails() const { return m_fails; }
  // [{check, status, message, hint}] (docs/schemas/doctor.schema.json).
  YamlNode findings() const { return YamlNode::seq(m_findings); }

private:
  void line(const char* tag, const std::string& text, const std::string& hint)
  {
    if (m_json) {
      std::string status = tag[0] == 'O' ? "ok" : tag[0] == 'W' ? "warn" : "fail";
      m_findings.push_back(YamlNode::map(
        {{YamlNode::string("check"), YamlNode::string(doctor_check_name(text))},
         {YamlNode::string("status"), YamlNode::string(status)},
         {YamlNode::string("message"), YamlNode::string(text)},
         {YamlNode::string("hint"), hint.empty() ? YamlNode::null() : YamlNode::string(hint)}}));
      return;
    }
    std::cout << tag << "  " << text << "\n";
    if (!hint.empty()) {
      std::cout << "      hint: " << hint << "\n";
    }
  }
  int m_fails = 0;
  bool m_json = false;
  std::vector<YamlNode> m_findings;
};

// The store's primaries (to tell whose persistent handles are whose); empty when there is no
// readable store (check_store reports why).
std::vector<Primary> doctor_primaries(const GlobalOptions& g);
void check_store(Report& r, const GlobalOptions& g);
// The module, the upstream module and OpenSSH.
void check_tools(Report& r);

} // namespace ptool::cli
