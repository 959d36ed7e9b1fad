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
// What a finding is about. Its name (doctor_check_name) is the JSON `check` field, stable for
// scripts: never derive it from the message, which may be reworded.
enum class DoctorCheck {
  k_tcti,
  k_resource_manager,
  k_tpm,
  k_algorithms,
  k_persistent_handles,
  k_lockout,
  k_loaded_handles,
  k_store,
  k_store_permissions,
  k_store_leftovers,
  k_schema,
  k_rows,
  k_module,
  k_upstream_module,
  k_openssh,
};
const char* doctor_check_name(DoctorCheck check);

class Report
{
public:
  explicit Report(bool json = false) : m_json(json) {}
  void ok(DoctorCheck check, const std::string& text) { line(check, "OK  ", text, {}); }
  void warn(DoctorCheck check, const std::string& text, const std::string& hint)
  {
    line(check, "WARN", text, hint);
  }
  void fail(DoctorCheck check, const std::string& text, const std::string& hint)
  {
    ++m_fails;
    line(check, "FAIL", text, hint);
  }
  int fails() const { return m_fails; }
  // [{check, status, message, hint}] (docs/schemas/doctor.schema.json).
  YamlNode findings() const { return YamlNode::seq(m_findings); }

private:
  void line(DoctorCheck check, const char* tag, const std::string& text, const std::string& hint)
  {
    if (m_json) {
      std::string status = tag[0] == 'O' ? "ok" : tag[0] == 'W' ? "warn" : "fail";
      m_findings.push_back(YamlNode::map(
        {{YamlNode::string("check"), YamlNode::string(doctor_check_name(check))},
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
