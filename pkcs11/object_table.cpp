// SPDX-License-Identifier: BSD-2-Clause
#include "pkcs11/object_table.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/error.hpp"
#include "core/keys/openssl_key.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "pkcs11/p11.hpp"
#include "store/attr_scan.hpp"
#include "store/attr_yaml.hpp"
#include "store/store.hpp"

namespace ptool::p11 {

namespace {

constexpr uint64_t k_indexed[] = {
  ck::k_class,
  ck::k_token,
  ck::k_private,
  ck::k_label,
  ck::k_certificate_type,
  ck::k_key_type,
  ck::k_id,
  ck::k_encrypt,
  ck::k_decrypt,
  ck::k_sign,
  ck::k_verify,
  ck::k_derive,
  ck::k_allowed_mechanisms,
};

std::atomic<uint64_t> g_parses{0};

// The full parse of one row as Store::objects_skipping did it, plus the EC point repair the
// module applies; nullopt (logged) when the row does not parse.
std::optional<AttrMap>
parse_row(int64_t id, std::string_view text)
{
  ++g_parses;
  try {
    AttrMap attrs = store::parse_attrs(text);
    if (keys::repair_ec_point(attrs)) {
      log(LogLevel::k_info, "object " + std::to_string(id) + ": padded upstream's short EC point");
    }
    if (log_enabled(LogLevel::k_debug)) {
      log(LogLevel::k_debug, "object " + std::to_string(id) + ": attributes parsed");
    }
    return attrs;
  } catch (const std::exception& e) {
    log(LogLevel::k_warn,
        "object skipped: tobjects row " + std::to_string(id) + " is unreadable: " + e.what());
    return std::nullopt;
  }
}

static_assert(std::size(k_indexed) == ObjectTable::k_indexed_count);
static_assert(std::is_sorted(std::begin(k_indexed), std::end(k_indexed))); // scans fastest

std::optional<size_t>
index_of(uint64_t type)
{
  const auto* it = std::find(std::begin(k_indexed), std::end(k_indexed), type);
  if (it == std::end(k_indexed)) {
    return std::nullopt;
  }
  return static_cast<size_t>(it - std::begin(k_indexed));
}

// The index of a row, when the fast scanner reads it and the full parse cannot fail on it.
bool
index_row(std::string_view text, ObjectTable::Row& row)
{
  if (!store::scan_attr_spans(text, k_indexed, row.index)) {
    return false;
  }
  // parse_attrs turns a hex CKA_ALLOWED_MECHANISMS (upstream's library writes one) into a
  // list and refuses one that is not whole CK_ULONGs: leave both to it.
  const store::ValueSpan& mech = row.index[*index_of(ck::k_allowed_mechanisms)];
  return !mech.found || mech.kind() != AttrValue::Kind::k_bytes;
}

} // namespace

std::span<const uint64_t>
ObjectTable::indexed()
{
  return k_indexed;
}

bool
ObjectTable::is_indexed(uint64_t type)
{
  return index_of(type).has_value();
}

uint64_t
ObjectTable::parse_count()
{
  return g_parses.load();
}

ObjectTable
ObjectTable::read(const store::Store& st, int64_t tokid, ObjectTable& previous)
{
  ObjectTable table;
  table.m_tokid = tokid;
  // (position in table, position in previous) of the rows unchanged since `previous`.
  std::vector<std::pair<size_t, size_t>> reuse;
  // Room for as many rows as last time; growing four-fold beyond that (a token may hold tens
  // of thousands of rows, and each growth moves them all).
  table.m_rows.reserve(previous.m_tokid == tokid ? previous.m_rows.size() : 0);
  const Rows& old = previous.m_rows;
  size_t next_old = previous.m_tokid == tokid ? 0 : old.size();
  st.object_rows(tokid, [&](int64_t id, std::string_view text) {
    // Lookups are binary searches: the rows must come in increasing id order, which ORDER BY
    // id gives a store of upstream's schema. A crafted one could repeat an id or sort ids as
    // text: such a row is skipped, never looked up wrongly.
    if (!table.m_rows.empty() && id <= table.m_rows.back().first) {
      log(LogLevel::k_warn, "object skipped: tobjects row " + std::to_string(id)
                              + " comes out of id order (a repeated or non-integer id)");
      return;
    }
    if (table.m_rows.size() == table.m_rows.capacity()) {
      table.m_rows.reserve(std::max<size_t>(64, 4 * table.m_rows.size()));
    }
    // Both in id order: walk `previous` alongside.
    while (next_old < old.size() && old[next_old].first < id) {
      ++next_old;
    }
    if (next_old < old.size() && old[next_old].first == id && old[next_old].second.text == text) {
      reuse.emplace_back(table.m_rows.size(), next_old);
      table.m_rows.emplace_back(id, Row{}); // filled below
      return;
    }
    Row row;
    if (!index_row(text, row)) {
      // Only the full YAML parser reads this row: parse it now, and skip it when it fails.
      std::optional<AttrMap> attrs = parse_row(id, text);
      if (!attrs) {
        return;
      }
      row.full = std::make_unique<std::pair<const int64_t, Object>>(
        id, Object{id, tokid, std::move(*attrs)});
    }
    row.text = std::string(text);
    table.m_rows.emplace_back(id, std::move(row));
  });
  // The store was read: only now take the unchanged rows over from `previous`.
  for (auto [to, from] : reuse) {
    table.m_rows[to].second = std::move(previous.m_rows[from].second);
  }
  return table;
}

ObjectTable::Rows::const_iterator
ObjectTable::lower_bound(int64_t id) const
{
  return std::lower_bound(m_rows.begin(), m_rows.end(), id,
                          [](const Rows::value_type& r, int64_t v) { return r.first < v; });
}

const ObjectTable::Rows::value_type*
ObjectTable::row(int64_t id) const
{
  auto it = lower_bound(id);
  return it != m_rows.end() && it->first == id ? &*it : nullptr;
}

const Object*
ObjectTable::get(const Rows::value_type& entry) const
{
  const Row& row = entry.second;
  if (row.full) {
    return &row.full->second;
  }
  if (row.bad) {
    return nullptr;
  }
  std::optional<AttrMap> attrs = parse_row(entry.first, row.text);
  if (!attrs) {
    row.bad = true;
    return nullptr;
  }
  row.full = std::make_unique<std::pair<const int64_t, Object>>(
    entry.first, Object{entry.first, m_tokid, std::move(*attrs)});
  return &row.full->second;
}

const Object*
ObjectTable::get(int64_t id) const
{
  const Rows::value_type* r = row(id);
  return r ? get(*r) : nullptr;
}

std::optional<AttrValue>
ObjectTable::value(const Rows::value_type& entry, uint64_t type) const
{
  const Row& row = entry.second;
  const AttrMap* attrs = nullptr;
  std::optional<size_t> i = index_of(type);
  if (row.full) {
    attrs = &row.full->second.attrs;
  } else if (i) {
    const store::ValueSpan& span = row.index[*i];
    if (!span.found) {
      return std::nullopt;
    }
    return store::decode_span(row.text, span);
  } else if (const Object* obj = get(entry)) {
    attrs = &obj->attrs;
  }
  if (!attrs) {
    return std::nullopt;
  }
  auto it = attrs->find(type);
  if (it == attrs->end()) {
    return std::nullopt;
  }
  return it->second;
}

const Object&
ObjectTable::at(int64_t id) const
{
  const Object* obj = get(id);
  if (!obj) {
    throw std::out_of_range("ObjectTable::at: no object " + std::to_string(id));
  }
  return *obj;
}

} // namespace ptool::p11
