// SPDX-License-Identifier: BSD-2-Clause
#include "core/crypto/bcrypt_pbkdf.hpp"

#include <algorithm>
#include <array>
#include <mutex>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::crypto {

namespace {

constexpr size_t k_p_words = 18;
constexpr size_t k_s_words = 4 * 256;

struct BlowfishState
{
  std::array<uint32_t, k_p_words> p;
  std::array<std::array<uint32_t, 256>, 4> s;

  ~BlowfishState() { OPENSSL_cleanse(this, sizeof(*this)); }
};

using Bn = Bignum;

// acc += factor * atan(1/x) * 2^bits, by the alternating Taylor series in fixed point.
void
add_arctan(BIGNUM* acc, BN_ULONG x, BN_ULONG factor, int bits)
{
  Bn term(BN_new());
  Bn part(BN_new());
  if (!term || !part || BN_set_word(term.get(), 1) != 1
      || BN_lshift(term.get(), term.get(), bits) != 1 || BN_mul_word(term.get(), factor) != 1) {
    throw Error(ExitCode::k_general, "out of memory computing the Blowfish constants");
  }
  BN_div_word(term.get(), x);
  for (BN_ULONG k = 0; !BN_is_zero(term.get()); ++k) {
    if (BN_copy(part.get(), term.get()) == nullptr) {
      throw Error(ExitCode::k_general, "out of memory computing the Blowfish constants");
    }
    BN_div_word(part.get(), 2 * k + 1);
    int ok = (k % 2 == 0) ? BN_add(acc, acc, part.get()) : BN_sub(acc, acc, part.get());
    if (ok != 1) {
      throw Error(ExitCode::k_general, "out of memory computing the Blowfish constants");
    }
    BN_div_word(term.get(), x * x);
  }
}

// Blowfish's initial P-array and S-boxes are the fractional hexadecimal digits of pi, in
// order. Rather than carry a 4 KiB table we compute pi once with Machin's formula,
// pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with 64 guard bits (each series term
// truncates by less than one unit, and there are fewer than 2^13 of them).
const BlowfishState&
initial_state()
{
  static BlowfishState state;
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int k_guard = 64;
    constexpr int k_bits = static_cast<int>((k_p_words + k_s_words) * 32);
    Bn pi(BN_new());
    if (!pi) {
      throw Error(ExitCode::k_general, "out of memory computing the Blowfish constants");
    }
    BN_zero(pi.get());
    add_arctan(pi.get(), 5, 16, k_bits + k_guard);
    Bn minus(BN_new());
    BN_zero(minus.get());
    add_arctan(minus.get(), 239, 4, k_bits + k_guard);
    BN_sub(pi.get(), pi.get(), minus.get());
    // Drop the guard bits, then the integer part 3.
    BN_rshift(pi.get(), pi.get(), k_guard);
    BN_mask_bits(pi.get(), k_bits);
    std::array<uint8_t, k_bits / 8> digits{};
    BN_bn2binpad(pi.get(), digits.data(), static_cast<int>(digits.size()));
    auto word = [&](size_t i) {
      return static_cast<uint32_t>(digits[4 * i]) << 24
             | static_cast<uint32_t>(digits[4 * i + 1]) << 16
             | static_cast<uint32_t>(digits[4 * i + 2]) << 8 | digits[4 * i + 3];
    };
    for (size_t i = 0; i < k_p_words; ++i) {
      state.p[i] = word(i);
    }
    for (size_t i = 0; i < k_s_words; ++i) {
      state.s[i / 256][i % 256] = word(k_p_words + i);
    }
  });
  // Spot checks against the published table's first and last words; the known-answer tests
  // in tests/unit cover everything in between.
  if (state.p[0] != 0x243f6a88u || state.s[0][0] != 0xd1310ba6u || state.s[3][255] != 0x3ac372e6u) {
    throw Error(ExitCode::k_general, "internal error: Blowfish constants are wrong");
  }
  return state;
}

uint32_t
feistel(const BlowfishState& st, uint32_t x)
{
  return ((st.s[0][x >> 24] + st.s[1][(x >> 16) & 0xff]) ^ st.s[2][(x >> 8) & 0xff])
         + st.s[3][x & 0xff];
}

void
encipher(const BlowfishState& st, uint32_t& left, uint32_t& right)
{
  uint32_t l = left ^ st.p[0];
  uint32_t r = right;
  for (size_t i = 1; i <= 16; i += 2) {
    r ^= feistel(st, l) ^ st.p[i];
    l ^= feistel(st, r) ^ st.p[i + 1];
  }
  left = r ^ st.p[17];
  right = l;
}

// A 64-byte SHA-512 digest read as sixteen big-endian words: Blowfish consumes keys and
// salts a word at a time, cycling through them.
using Digest = std::array<uint8_t, 64>;
using Words = std::array<uint32_t, 16>;

Words
to_words(const Digest& d)
{
  Words w{};
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<uint32_t>(d[4 * i]) << 24 | static_cast<uint32_t>(d[4 * i + 1]) << 16
           | static_cast<uint32_t>(d[4 * i + 2]) << 8 | d[4 * i + 3];
  }
  return w;
}

// Blowfish key schedule with a salt (eksblowfish's ExpandKey); a null `salt` is the plain
// schedule that the cost loop repeats.
void
expand(BlowfishState& st, const Words& key, const Words* salt)
{
  for (size_t i = 0; i < k_p_words; ++i) {
    st.p[i] ^= key[i % key.size()];
  }
  size_t spos = 0;
  uint32_t l = 0;
  uint32_t r = 0;
  auto next = [&](uint32_t& a, uint32_t& b) {
    if (salt != nullptr) {
      l ^= (*salt)[spos];
      r ^= (*salt)[spos + 1];
      spos = (spos + 2) % salt->size();
    }
    encipher(st, l, r);
    a = l;
    b = r;
  };
  for (size_t i = 0; i < k_p_words; i += 2) {
    next(st.p[i], st.p[i + 1]);
  }
  for (auto& box : st.s) {
    for (size_t i = 0; i < box.size(); i += 2) {
      next(box[i], box[i + 1]);
    }
  }
}

void
sha512(std::span<const uint8_t> data, Digest& out)
{
  EvpMdCtx ctx(EVP_MD_CTX_new());
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1
      || EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1
      || EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1) {
    throw Error(ExitCode::k_general, "SHA-512 failed");
  }
}

// One PRF call: 32 bytes from a hashed passphrase and a hashed salt.
void
bcrypt_hash(const Digest& pass_digest, const Digest& salt_digest, std::array<uint8_t, 32>& out)
{
  Words pass = to_words(pass_digest);
  Words salt = to_words(salt_digest);
  BlowfishState st = initial_state();
  expand(st, pass, &salt);
  for (int i = 0; i < 64; ++i) {
    expand(st, salt, nullptr);
    expand(st, pass, nullptr);
  }
  // "OxychromaticBlowfishSwatDynamite" as big-endian words, encrypted 64 times in ECB mode.
  std::array<uint32_t, 8> block = {0x4f787963, 0x68726f6d, 0x61746963, 0x426c6f77,
                                   0x66697368, 0x53776174, 0x44796e61, 0x6d697465};
  for (int i = 0; i < 64; ++i) {
    for (size_t j = 0; j < block.size(); j += 2) {
      encipher(st, block[j], block[j + 1]);
    }
  }
  // Words leave little-endian: a quirk of the reference implementation that files depend on.
  for (size_t i = 0; i < block.size(); ++i) {
    for (size_t b = 0; b < 4; ++b) {
      out[4 * i + b] = static_cast<uint8_t>(block[i] >> (8 * b));
    }
  }
  OPENSSL_cleanse(block.data(), sizeof(block));
  OPENSSL_cleanse(pass.data(), sizeof(pass));
  OPENSSL_cleanse(salt.data(), sizeof(salt));
}

} // namespace

SecureBytes
bcrypt_pbkdf(std::span<const uint8_t> passphrase, std::span<const uint8_t> salt, uint32_t rounds,
             size_t out_len)
{
  if (rounds == 0 || out_len == 0 || out_len > 1024 || salt.empty()) {
    throw Error(ExitCode::k_usage, "invalid bcrypt_pbkdf parameters in the key file");
  }
  constexpr size_t k_block = 32;
  // Output bytes are spread over the blocks with a stride, so that every byte of the result
  // costs all blocks' work.
  const size_t stride = (out_len + k_block - 1) / k_block;
  const size_t per_block = (out_len + stride - 1) / stride;

  Digest hashed_pass{};
  sha512(passphrase, hashed_pass);
  SecureBytes out(out_len);
  SecureBytes counted_salt(salt.begin(), salt.end());
  counted_salt.resize(salt.size() + 4);
  Digest hashed_salt{};
  std::array<uint8_t, k_block> chunk{};
  std::array<uint8_t, k_block> acc{};
  for (uint32_t count = 1; count <= stride; ++count) {
    for (size_t b = 0; b < 4; ++b) {
      counted_salt[salt.size() + b] = static_cast<uint8_t>(count >> (24 - 8 * b));
    }
    sha512(counted_salt, hashed_salt);
    bcrypt_hash(hashed_pass, hashed_salt, chunk);
    acc = chunk;
    for (uint32_t r = 1; r < rounds; ++r) {
      sha512(chunk, hashed_salt);
      bcrypt_hash(hashed_pass, hashed_salt, chunk);
      for (size_t i = 0; i < k_block; ++i) {
        acc[i] ^= chunk[i];
      }
    }
    for (size_t i = 0; i < per_block; ++i) {
      size_t dest = i * stride + (count - 1);
      if (dest >= out_len) {
        break;
      }
      out[dest] = acc[i];
    }
  }
  OPENSSL_cleanse(hashed_pass.data(), hashed_pass.size());
  OPENSSL_cleanse(hashed_salt.data(), hashed_salt.size());
  OPENSSL_cleanse(chunk.data(), chunk.size());
  OPENSSL_cleanse(acc.data(), acc.size());
  return out;
}

} // namespace ptool::crypto
