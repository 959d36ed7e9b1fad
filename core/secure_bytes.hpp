// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

namespace ptool {

// Allocator that wipes memory with OPENSSL_cleanse (which the compiler cannot elide) before
// giving it back, so PINs, auth values and keys never linger in freed heap memory.
template<typename T>
struct CleansingAllocator
{
  using value_type = T;
  CleansingAllocator() = default;
  template<typename U>
  CleansingAllocator(const CleansingAllocator<U>&) noexcept
  {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept
  {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template<typename U>
  bool operator==(const CleansingAllocator<U>&) const noexcept
  {
    return true;
  }
};

// Bytes that hold a secret. Wiped whenever the buffer is released or reallocated.
class SecureBytes : public std::vector<uint8_t, CleansingAllocator<uint8_t>>
{
public:
  using std::vector<uint8_t, CleansingAllocator<uint8_t>>::vector;
  SecureBytes() = default;
  static SecureBytes from(std::string_view s)
  {
    return SecureBytes(reinterpret_cast<const uint8_t*>(s.data()),
                       reinterpret_cast<const uint8_t*>(s.data()) + s.size());
  }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size()}; }
};

// Wipes a fixed-size C structure (TPM2B_AUTH, TPM2B_SENSITIVE_CREATE, …) when it goes out
// of scope.
template<typename T>
class Wiped
{
public:
  Wiped() { std::memset(&m_value, 0, sizeof(T)); }
  ~Wiped() { OPENSSL_cleanse(&m_value, sizeof(T)); }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  T& operator*() { return m_value; }
  T* operator->() { return &m_value; }
  T* get() { return &m_value; }

private:
  T m_value;
};

} // namespace ptool
