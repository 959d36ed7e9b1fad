// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <string_view>
#include <typeinfo>

#include "core/error.hpp"

// Shared by the fuzz targets: a finding is a crash, a sanitizer report, a broken property
// (fuzz_require) or an exception other than the ones a target declares expected.
namespace ptool::fuzz {

[[noreturn]] inline void
finding(const char* what)
{
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

inline void
fuzz_require(bool ok, const char* what)
{
  if (!ok) {
    finding(what);
  }
}

inline std::string_view
as_text(const uint8_t* data, size_t size)
{
  return size ? std::string_view(reinterpret_cast<const char*>(data), size) : std::string_view();
}

inline std::span<const uint8_t>
as_bytes(const uint8_t* data, size_t size)
{
  return size ? std::span<const uint8_t>(data, size) : std::span<const uint8_t>();
}

// Runs `f`; ptool::Error is the documented way to reject input, anything else is a finding.
template<typename F>
void
expect_only_error(F&& f)
{
  try {
    f();
  } catch (const Error&) {
    // rejected input: fine
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: unexpected exception: %s\n", e.what());
    std::abort();
  }
}

// Runs `f` for the store's YAML codec, whose documented rejection is a plain
// std::runtime_error (store/attr_yaml.hpp). Returns false when the input was rejected. A
// yaml-cpp exception (also a runtime_error) escaping would be a finding: it means a case the
// codec does not check itself.
template<typename F>
bool
accepts_yaml(F&& f)
{
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    if (typeid(e) != typeid(std::runtime_error)) {
      std::fprintf(stderr, "FUZZ FINDING: %s escaped the codec: %s\n", typeid(e).name(), e.what());
      std::abort();
    }
    return false;
  }
}

} // namespace ptool::fuzz
