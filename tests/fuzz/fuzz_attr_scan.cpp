// SPDX-License-Identifier: BSD-2-Clause
// Differential: the fast tobjects.attrs scanner against the yaml-cpp path. Whenever the
// scanner accepts a row, yaml-cpp must accept it too and produce the same map; otherwise a
// store would read differently depending on which path a row happens to take.
#include <optional>

#include "store/attr_scan.hpp"
#include "store/attr_yaml.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace ptool;

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  std::string_view text = fuzz::as_text(data, size);
  std::optional<AttrMap> fast = store::scan_attrs(text);
  if (!fast) {
    return 0;
  }
  AttrMap full;
  fuzz::fuzz_require(fuzz::accepts_yaml([&] { full = store::parse_attrs_yaml(text); }),
                     "scan_attrs accepts YAML that yaml-cpp rejects");
  fuzz::fuzz_require(full == *fast, "scan_attrs and yaml-cpp read different attributes");
  return 0;
}
