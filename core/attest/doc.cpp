// SPDX-License-Identifier: BSD-2-Clause
#include "core/attest/doc.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/keys/openssh.hpp"

namespace ptool::attest {

namespace {

std::string
json_string(const std::string& s)
{
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static const char* k_hex = "0123456789abcdef";
      out += "\\u00";
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

} // namespace

Doc::Doc(std::string type) : m_type(std::move(type))
{
  m_fields.emplace_back("type", m_type);
  m_fields.emplace_back("version", std::to_string(k_doc_version));
}

Doc
Doc::parse(std::string_view text, const std::string& source, const std::string& type)
{
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception&) {
    throw_usage(source + " is not a JSON document", "give the file the other side printed");
  }
  if (!root.IsMap()) {
    throw_usage(source + " is not a JSON object", "give the file the other side printed");
  }
  Doc doc(type);
  doc.m_source = source;
  doc.m_fields.clear();
  for (const auto& kv : root) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
      throw_usage(source + ": every field must be a string or number");
    }
    auto key = kv.first.as<std::string>();
    for (const auto& f : doc.m_fields) {
      if (f.first == key) {
        throw_usage(source + ": field \"" + key + "\" appears twice");
      }
    }
    doc.m_fields.emplace_back(key, kv.second.as<std::string>());
  }
  auto t = doc.find("type");
  if (!t || *t != type) {
    throw_usage(source + " is not a " + type + " document (type \"" + t.value_or("") + "\")",
                "check which file goes to which command (docs/attestation.md)");
  }
  if (doc.find("version") != std::to_string(k_doc_version)) {
    throw Error(ExitCode::k_unsupported,
                source + " has version " + doc.find("version").value_or("(none)")
                  + "; this tpm2-ptool reads version " + std::to_string(k_doc_version));
  }
  return doc;
}

void
Doc::set(const std::string& key, std::string value)
{
  for (auto& f : m_fields) {
    if (f.first == key) {
      f.second = std::move(value);
      return;
    }
  }
  m_fields.emplace_back(key, std::move(value));
}

void
Doc::set_b64(const std::string& key, std::span<const uint8_t> value)
{
  set(key, base64_encode(value));
}

std::optional<std::string>
Doc::find(const std::string& key) const
{
  for (const auto& f : m_fields) {
    if (f.first == key) {
      return f.second;
    }
  }
  return std::nullopt;
}

const std::string&
Doc::get(const std::string& key) const
{
  for (const auto& f : m_fields) {
    if (f.first == key) {
      return f.second;
    }
  }
  throw_usage(m_source + " has no field \"" + key + "\"", "give the file the other side printed");
}

Bytes
Doc::get_b64(const std::string& key) const
{
  auto b = base64_decode(get(key));
  if (!b) {
    throw_usage(m_source + ": field \"" + key + "\" is not base64");
  }
  return *b;
}

std::string
Doc::json() const
{
  std::string out = "{\n";
  for (size_t i = 0; i < m_fields.size(); ++i) {
    const auto& [k, v] = m_fields[i];
    out += "  " + json_string(k) + ": " + (k == "version" ? v : json_string(v));
    out += i + 1 < m_fields.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

std::string
base64_encode(std::span<const uint8_t> data)
{
  return keys::base64(data);
}

std::optional<Bytes>
base64_decode(std::string_view text)
{
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool pad_ok = c == '=' && i + 2 >= text.size();
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad_ok)) {
      return std::nullopt;
    }
  }
  Bytes out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  }
  if (text.size() >= 2 && text[text.size() - 2] == '=' && text.back() != '=') {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(n) - pad);
  if (base64_encode(out) != text) {
    return std::nullopt; // non-canonical encodings would let two texts mean one value
  }
  return out;
}

} // namespace ptool::attest
