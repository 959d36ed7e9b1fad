// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/model.hpp"
#include "store/attr_scan.hpp"

namespace ptool::store {
class Store;
}

namespace ptool::p11 {

// The objects of one token as the store held them at the last read (TokenState::objects).
// Reading a token with thousands of keys must stay cheap (C_FindObjectsInit re-reads it
// each time), so a row is not parsed in full at load: its text is kept, and the fast
// scanner, which checks the whole row exactly as the full parse would (scan_attr_spans, so
// a row that indexes parses too), notes where the attributes find templates commonly hold
// (indexed()) lie in it; value() decodes one from there. No allocation per row beyond its
// text. Rows in other layouts, which only the full YAML parser
// reads, are parsed at load; rows that do not parse are skipped there with a warning, as
// before. The full attribute map of a row is made on first use (object(), get, iteration)
// and kept until the row changes in the store.
//
// Iterating the table or find() gives fully parsed objects, as std::map<int64_t, Object>
// did: `for (const auto& [id, obj] : ts.objects)` parses every row (code that only needs
// the indexed attributes uses rows() and value()).
class ObjectTable
{
public:
  static constexpr size_t k_indexed_count = 13;
  struct Row
  {
    std::string text; // tobjects.attrs as stored
    // Where in `text` the indexed attributes lie (index[i] for indexed()[i]).
    std::array<store::ValueSpan, k_indexed_count> index;
    // Once parsed; on the heap so that the Object stays put when the row moves (a row
    // unchanged in the store is moved to the next read's table).
    mutable std::unique_ptr<std::pair<const int64_t, Object>> full;
    mutable bool bad = false; // the full parse failed (logged once): the row is skipped
  };
  // Sorted by id, contiguous: a token may hold tens of thousands of rows, and C_FindObjects
  // walks them all.
  using Rows = std::vector<std::pair<int64_t, Row>>;

  // The attributes decoded at load: CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL,
  // CKA_KEY_TYPE, CKA_ID, the usage flags (CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT,
  // CKA_DERIVE), CKA_CERTIFICATE_TYPE and CKA_ALLOWED_MECHANISMS.
  static std::span<const uint64_t> indexed();
  static bool is_indexed(uint64_t type);

  // Reads token `tokid`'s rows from `st`. Rows whose text is unchanged since `previous`
  // keep their index and parsed attributes (moved out of `previous`, which is left as it
  // was when reading the store throws).
  static ObjectTable read(const store::Store& st, int64_t tokid, ObjectTable& previous);

  const Rows& rows() const { return m_rows; }
  // The row with id `id`, or nullptr.
  const Rows::value_type* row(int64_t id) const;
  // Row `id` parsed in full, or nullptr when there is no such row or it does not parse.
  const Object* get(int64_t id) const;
  const Object* get(const Rows::value_type& row) const;
  // Attribute `type` of `row`: decoded from the text for an indexed attribute (no parse),
  // else from the full parse. nullopt when the row lacks it (or does not parse: check
  // usable()).
  std::optional<AttrValue> value(const Rows::value_type& row, uint64_t type) const;
  // False once the row's full parse failed.
  static bool usable(const Rows::value_type& row) { return !row.second.bad; }
  // Full parses done by this process (the debug log reports them; a test counts them).
  static uint64_t parse_count();

  // std::map<int64_t, Object>-like access, each object parsed in full; rows that do not
  // parse are left out.
  class const_iterator
  {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::pair<const int64_t, Object>;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return *m_it->second.full; }
    pointer operator->() const { return &*m_it->second.full; }
    const_iterator& operator++()
    {
      ++m_it;
      settle();
      return *this;
    }
    const_iterator operator++(int)
    {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const { return m_it == o.m_it; }

  private:
    friend class ObjectTable;
    const_iterator(const ObjectTable* t, Rows::const_iterator it) : m_table(t), m_it(it)
    {
      settle();
    }
    void settle()
    {
      while (m_it != m_table->m_rows.end() && !m_table->get(*m_it)) {
        ++m_it;
      }
    }
    const ObjectTable* m_table = nullptr;
    Rows::const_iterator m_it;
  };
  using iterator = const_iterator;

  const_iterator begin() const { return {this, m_rows.begin()}; }
  const_iterator end() const { return {this, m_rows.end()}; }
  const_iterator find(int64_t id) const
  {
    auto it = lower_bound(id);
    return it != m_rows.end() && it->first == id && get(*it) ? const_iterator(this, it) : end();
  }
  size_t count(int64_t id) const { return find(id) == end() ? 0 : 1; }
  bool contains(int64_t id) const { return count(id) != 0; }
  const Object& at(int64_t id) const;
  // Rows read (a row that turns out not to parse is counted until it is parsed).
  size_t size() const { return m_rows.size(); }
  bool empty() const { return m_rows.empty(); }
  void clear() { m_rows.clear(); }

private:
  Rows::const_iterator lower_bound(int64_t id) const;

  Rows m_rows;
  int64_t m_tokid = 0;
};

} // namespace ptool::p11
