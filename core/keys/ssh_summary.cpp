// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/ssh_summary.hpp"

#include "core/keys/attributes.hpp"
#include "core/keys/openssh.hpp"
#include "core/keys/pkcs11_ids.hpp"

namespace ptool::keys {

namespace {

// Significant bits of a big-endian number (ssh-keygen prints BN_num_bits of the modulus).
size_t
bit_length(const Bytes& n)
{
  for (size_t i = 0; i < n.size(); ++i) {
    if (n[i] != 0) {
      size_t bits = (n.size() - i) * 8;
      for (uint8_t top = 0x80; top && !(n[i] & top); top >>= 1) {
        --bits;
      }
      return bits;
    }
  }
  return 0;
}

} // namespace

std::optional<std::string>
openssh_fingerprint_line(const AttrMap& attrs)
{
  std::optional<std::string> line = openssh_public_line(attrs);
  if (!line) {
    return std::nullopt;
  }
  std::string type = line->substr(0, line->find(' '));
  std::string bits;
  std::string name;
  if (type == "ssh-rsa") {
    const Bytes* modulus = attr_bytes(attrs, ck::k_modulus);
    bits = std::to_string(modulus ? bit_length(*modulus) : 0);
    name = "RSA";
  } else {
    bits = type.substr(type.find("nistp") + 5); // ecdsa-sha2-nistp256 -> 256
    name = "ECDSA";
  }
  const Bytes* label = attr_bytes(attrs, ck::k_label);
  std::string comment =
    label && !label->empty() ? printable_comment(to_string(*label)) : "no comment";
  return bits + " " + openssh_fingerprint(*line) + " " + comment + " (" + name + ")";
}

} // namespace ptool::keys
