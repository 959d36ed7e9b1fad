// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/hex.hpp"

// The attestation documents (enroll, challenge, response, device record, key, verifier
// state): flat JSON objects of string fields plus an integer "version", each described by a
// JSON Schema in docs/schemas/attest-*.schema.json. Binary fields are standard base64.
namespace ptool::attest {

class Doc
{
public:
  // A new document of `type` ("tpm2-ptool-attest-enroll", …), version 1.
  explicit Doc(std::string type);

  // Parses `text` (from `source`, for messages) and checks its "type" and "version".
  // Throws Error(k_usage) when it is not a JSON object of strings, not `type`, or of
  // another version.
  static Doc parse(std::string_view text, const std::string& source, const std::string& type);

  void set(const std::string& key, std::string value);
  void set_b64(const std::string& key, std::span<const uint8_t> value);
  // A required field; Error(`code`) naming the field and the document when it is absent.
  const std::string& get(const std::string& key) const;
  std::optional<std::string> find(const std::string& key) const;
  Bytes get_b64(const std::string& key) const;

  const std::vector<std::pair<std::string, std::string>>& fields() const { return m_fields; }
  // 2-space indented JSON, ends with a newline.
  std::string json() const;

private:
  std::string m_type;
  std::string m_source;
  std::vector<std::pair<std::string, std::string>> m_fields; // "type" first, "version" second
};

constexpr int k_doc_version = 1;

std::string base64_encode(std::span<const uint8_t> data);
// Strict standard base64 (padded); nullopt on anything else.
std::optional<Bytes> base64_decode(std::string_view text);

} // namespace ptool::attest
