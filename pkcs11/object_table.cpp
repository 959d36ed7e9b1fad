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

// The index of a row, when the fast scanner reads it and the full parse cannot fail on it.
std::optional<AttrMap>
index_row(std::string_view text)
{
  std::optional<AttrMap> index = store::scan_attrs_only(text, k_indexed);
  if (!index) {
    return std::nullopt;
  }
  // parse_attrs turns a hex CKA_ALLOWED_MECHANISMS (upstream's library writes one) into a
  // list and refuses one that is not whole CK_ULONGs: leave both to it.
  auto mech = index->find(ck::k_allowed_mechanisms);
  if (mech != index->end() && mech->second.kind == AttrValue::Kind::k_bytes) {
    return std::nullopt;
  }
  return index;
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
  return std::find(std::begin(k_indexed), std::end(k_indexed), type) != std::end(k_indexed);
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
  std::vector<int64_t> reuse;
  bool same_token = previous.m_tokid == tokid;
  st.object_rows(tokid, [&](int64_t id, std::string_view text) {
    if (same_token) {
      auto old = previous.m_rows.find(id);
      if (old != previous.m_rows.end() && old->second.text == text) {
        reuse.push_back(id);
        return;
      }
    }
    Row row;
    std::optional<AttrMap> index = index_row(text);
    if (index) {
      row.index = std::move(*index);
    } else {
      // Only the full YAML parser reads this row: parse it now, and skip it when it fails.
      std::optional<AttrMap> attrs = parse_row(id, text);
      if (!attrs) {
        return;
      }
      row.full.emplace(id, Object{id, tokid, std::move(*attrs)});
    }
    row.text = std::string(text);
    table.m_rows.emplace_hint(table.m_rows.end(), id, std::move(row));
  });
  // The store was read: only now take the unchanged rows over from `previous`.
  for (int64_t id : reuse) {
    table.m_rows.insert(previous.m_rows.extract(id));
  }
  return table;
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
  row.full.emplace(entry.first, Object{entry.first, m_tokid, std::move(*attrs)});
  return &row.full->second;
}

const Object*
ObjectTable::get(int64_t id) const
{
  auto it = m_rows.find(id);
  return it == m_rows.end() ? nullptr : get(*it);
}

const AttrValue*
ObjectTable::value(const Rows::value_type& entry, uint64_t type) const
{
  const Row& row = entry.second;
  const AttrMap* attrs = nullptr;
  if (row.full) {
    attrs = &row.full->second.attrs;
  } else if (is_indexed(type)) {
    attrs = &row.index;
  } else if (const Object* obj = get(entry)) {
    attrs = &obj->attrs;
  }
  if (!attrs) {
    return nullptr;
  }
  auto it = attrs->find(type);
  return it == attrs->end() ? nullptr : &it->second;
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
