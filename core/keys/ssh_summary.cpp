// SPDX-License-Identifier: BSD-2-Clause
#include "core/keys/ssh_summary.hpp"

#include <algorithm>

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

// OpenSSH's name and size of a key ("ECDSA", "256"), as ssh-keygen -l prints them.
struct KeyKind
{
  std::string line;
  std::string name;
  std::string bits;
};

std::optional<KeyKind>
key_kind(const AttrMap& attrs)
{
  std::optional<std::string> line = openssh_public_line(attrs);
  if (!line) {
    return std::nullopt;
  }
  std::string type = line->substr(0, line->find(' '));
  if (type == "ssh-rsa") {
    const Bytes* modulus = attr_bytes(attrs, ck::k_modulus);
    return KeyKind{*line, "RSA", std::to_string(modulus ? bit_length(*modulus) : 0)};
  }
  return KeyKind{*line, "ECDSA", type.substr(type.find("nistp") + 5)}; // ecdsa-sha2-nistp256
}

// One border line of the art: `label` centred in the 17 dashes as ssh-keygen places it.
std::string
border(const std::string& label, size_t width)
{
  std::string out = "+";
  size_t left = label.size() < width ? (width - label.size()) / 2 : 0;
  out.append(left, '-');
  out += label;
  if (out.size() < width + 1) {
    out.append(width + 1 - out.size(), '-');
  }
  return out + "+";
}

} // namespace

std::optional<std::string>
openssh_fingerprint_line(const AttrMap& attrs)
{
  std::optional<KeyKind> kind = key_kind(attrs);
  if (!kind) {
    return std::nullopt;
  }
  const Bytes* label = attr_bytes(attrs, ck::k_label);
  std::string comment =
    label && !label->empty() ? printable_comment(to_string(*label)) : "no comment";
  return kind->bits + " " + openssh_fingerprint(kind->line) + " " + comment + " (" + kind->name
         + ")";
}

std::optional<std::string>
openssh_randomart(const AttrMap& attrs)
{
  std::optional<KeyKind> kind = key_kind(attrs);
  if (!kind) {
    return std::nullopt;
  }
  // The "drunken bishop" walk of OpenSSH's visual host key: a 17 x 9 board, starting in the
  // middle; every digest byte gives four diagonal moves (low bit pair first: bit 0 right or
  // left, bit 1 down or up), clamped at the edges; a cell's symbol counts its visits.
  constexpr int k_width = 17;
  constexpr int k_height = 9;
  const std::string symbols = " .o+=*BOX@%&#/^SE";
  const int start_mark = static_cast<int>(symbols.size()) - 2; // 'S'
  const int end_mark = static_cast<int>(symbols.size()) - 1;   // 'E'
  int board[k_width][k_height] = {};
  int x = k_width / 2;
  int y = k_height / 2;
  for (uint8_t byte : openssh_fingerprint_digest(kind->line)) {
    for (int step = 0; step < 4; ++step, byte = static_cast<uint8_t>(byte >> 2)) {
      x = std::clamp(x + ((byte & 1) ? 1 : -1), 0, k_width - 1);
      y = std::clamp(y + ((byte & 2) ? 1 : -1), 0, k_height - 1);
      if (board[x][y] < start_mark - 1) {
        ++board[x][y];
      }
    }
  }
  board[k_width / 2][k_height / 2] = start_mark;
  board[x][y] = end_mark;
  std::string art = border("[" + kind->name + " " + kind->bits + "]", k_width) + "\n";
  for (int row = 0; row < k_height; ++row) {
    art += "|";
    for (int col = 0; col < k_width; ++col) {
      art += symbols[static_cast<size_t>(std::min(board[col][row], end_mark))];
    }
    art += "|\n";
  }
  return art + border("[SHA256]", k_width);
}

} // namespace ptool::keys
