// SPDX-License-Identifier: BSD-2-Clause
// Differential: the fast tobjects.attrs scanner against the yaml-cpp path. Whenever the
// scanner accepts a row, yaml-cpp must accept it too and produce the same map; otherwise a
// store would read differently depending on which path a row happens to take. And the
// module's index (scan_attrs_only) accepts exactly the rows scan_attrs accepts, with the
// same values for the attributes it keeps (decoded from where scan_attr_spans found them).
#include <algorithm>
#include <iterator>
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
  static constexpr uint64_t k_only[] = {0, 2, 3, 0x102, 0x40000600};
  std::optional<store::AttrList> index = store::scan_attrs_only(text, k_only);
  fuzz::fuzz_require(index.has_value() == fast.has_value(),
                     "scan_attrs_only and scan_attrs disagree on a row");
  // The same keys unsorted (no cursor): the same values, in this order.
  static constexpr uint64_t k_unsorted[] = {0x102, 3, 0x40000600, 0, 2};
  std::optional<store::AttrList> shuffled = store::scan_attrs_only(text, k_unsorted);
  fuzz::fuzz_require(
    shuffled.has_value() == fast.has_value()
      && (!index
          || AttrMap(index->begin(), index->end()) == AttrMap(shuffled->begin(), shuffled->end())),
    "scan_attrs_only reads differently with unsorted keys");
  if (!fast) {
    return 0;
  }
  for (const auto& [k, v] : *index) {
    fuzz::fuzz_require(fast->count(k) && fast->at(k) == v, "scan_attrs_only read another value");
  }
  fuzz::fuzz_require(index->size()
                       == static_cast<size_t>(std::count_if(fast->begin(), fast->end(),
                                                            [](const auto& e) {
                                                              return std::find(std::begin(k_only),
                                                                               std::end(k_only),
                                                                               e.first)
                                                                     != std::end(k_only);
                                                            })),
                     "scan_attrs_only dropped a kept attribute");
  AttrMap full;
  fuzz::fuzz_require(fuzz::accepts_yaml([&] { full = store::parse_attrs_yaml(text); }),
                     "scan_attrs accepts YAML that yaml-cpp rejects");
  fuzz::fuzz_require(full == *fast, "scan_attrs and yaml-cpp read different attributes");
  return 0;
}
