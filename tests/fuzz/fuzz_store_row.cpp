// SPDX-License-Identifier: BSD-2-Clause
// Store rows as the store reads them: the input is split at NUL bytes into the columns of
// one pobjects, tokens and sealobjects row and any number of tobjects rows, written into a
// real schema-8 store with plain SQL, then read back through every Store read. Rows that
// parse must come back unchanged after being written by the Store itself. Each input runs
// in one transaction that is rolled back, so the store file stays empty.
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace ptool;

namespace {

namespace fs = std::filesystem;

// Column values: a chunk of exactly "\x01" is SQL NULL, a leading "\x02" stores the rest as
// a BLOB (upstream's tool writes some TEXT columns as BLOBs), anything else is the column's
// declared type.
enum Field {
  k_hierarchy,
  k_primary_config,
  k_objauth,
  k_label,
  k_token_config,
  k_userpub,
  k_userpriv,
  k_usersalt,
  k_sopub,
  k_sopriv,
  k_sosalt,
  k_first_attrs,
};

struct Fixture
{
  fs::path dir;
  std::optional<store::Store> store;

  Fixture()
  {
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "ptool-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      fuzz::finding("mkdtemp failed");
    }
    dir = tmpl;
    store.emplace(store::Store::open(dir, store::Store::Mode::k_read_write));
  }
  ~Fixture()
  {
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void
bind(sqlite3_stmt* st, int col, const std::optional<std::string_view>& v, bool blob)
{
  if (!v) {
    sqlite3_bind_text(st, col, "", 0, SQLITE_STATIC);
    return;
  }
  std::string_view s = *v;
  if (s == "\x01") {
    sqlite3_bind_null(st, col);
    return;
  }
  if (!s.empty() && s[0] == '\x02') {
    s.remove_prefix(1);
    blob = true;
  }
  if (blob) {
    sqlite3_bind_blob(st, col, s.data() ? s.data() : "", static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_text(st, col, s.data() ? s.data() : "", static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  }
}

// Runs one INSERT with the given fields; a constraint failure (NULL in a NOT NULL column)
// just leaves the row out.
void
insert(sqlite3* db, const char* sql, const std::vector<std::optional<std::string_view>>& values,
       const std::vector<bool>& blob)
{
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    fuzz::finding("prepare failed");
  }
  SqliteStmt st(raw);
  for (size_t i = 0; i < values.size(); ++i) {
    bind(st.get(), static_cast<int>(i + 1), values[i], blob[i]);
  }
  sqlite3_step(st.get());
}

void
check_round_trips(store::Store& s, const std::vector<Primary>& primaries,
                  const std::vector<Token>& tokens, const std::vector<Object>& objects)
{
  for (const Primary& p : primaries) {
    int64_t id = s.insert_primary(p);
    std::optional<Primary> again = s.primary(id);
    fuzz::fuzz_require(
      again && again->hierarchy == p.hierarchy && again->transient == p.transient
        && again->objauth == p.objauth
        && (p.transient ? again->template_name == p.template_name : again->esys_tr == p.esys_tr),
      "primary row changed in write -> read");
  }
  for (const Token& t : tokens) {
    Token copy = t;
    copy.label.reset(); // labels are UNIQUE
    int64_t id = s.insert_token(copy);
    auto again = s.tokens_skipping([](const Error&) {});
    bool found = false;
    for (const Token& a : again) {
      if (a.id == id) {
        found = a.pid == t.pid && a.config.token_init == t.config.token_init
                && a.config.pss_sigs_good == t.config.pss_sigs_good
                && a.config.empty_user_pin == t.config.empty_user_pin
                && a.config.tcti == t.config.tcti;
      }
    }
    fuzz::fuzz_require(found, "token row changed in write -> read");
  }
  for (const Object& o : objects) {
    int64_t id = s.insert_object(o.tokid, o.attrs);
    std::optional<Object> again = s.object(id);
    fuzz::fuzz_require(again && again->attrs == o.attrs, "tobjects row changed in write -> read");
  }
}

void
read_everything(store::Store& s)
{
  std::vector<Primary> primaries;
  std::vector<Token> tokens;
  std::vector<Object> objects;
  fuzz::expect_only_error([&] { primaries = s.primaries(); });
  fuzz::expect_only_error([&] { s.primary(1); });
  tokens = s.tokens_skipping([](const Error&) {});
  fuzz::expect_only_error([&] { s.tokens(); });
  fuzz::expect_only_error([&] { s.tokens(1); });
  for (const Token& t : tokens) {
    if (t.label) {
      fuzz::expect_only_error([&] { s.token_by_label(*t.label); });
    }
    fuzz::expect_only_error([&] { s.seal_object(t.id); });
    fuzz::expect_only_error([&] { s.objects(t.id); });
    for (Object& o : s.objects_skipping(t.id, [](const Error&) {})) {
      fuzz::expect_only_error([&] { s.object(o.id); });
      objects.push_back(std::move(o));
    }
  }
  try {
    check_round_trips(s, primaries, tokens, objects);
  } catch (const std::exception& e) {
    // Whatever was read once must write and read again.
    std::fprintf(stderr, "FUZZ FINDING: round trip failed: %s\n", e.what());
    std::abort();
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static Fixture fixture;
  std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string_view> chunks;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find('\0', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    chunks.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  auto field = [&](size_t i) -> std::optional<std::string_view> {
    return i < chunks.size() ? std::optional(chunks[i]) : std::nullopt;
  };

  store::Store& s = *fixture.store;
  store::Transaction tx(s); // rolled back at the end of the input
  sqlite3* db = s.db();
  insert(db, "INSERT INTO pobjects (id, hierarchy, config, objauth) VALUES (1, ?, ?, ?)",
         {field(k_hierarchy), field(k_primary_config), field(k_objauth)}, {false, false, false});
  insert(db, "INSERT INTO tokens (id, pid, label, config) VALUES (1, 1, ?, ?)",
         {field(k_label), field(k_token_config)}, {false, false});
  insert(db,
         "INSERT INTO sealobjects (tokid, userpub, userpriv, userauthsalt, sopub, sopriv, "
         "soauthsalt) VALUES (1, ?, ?, ?, ?, ?, ?)",
         {field(k_userpub), field(k_userpriv), field(k_usersalt), field(k_sopub), field(k_sopriv),
          field(k_sosalt)},
         {true, true, false, true, true, false});
  for (size_t i = k_first_attrs; i < chunks.size(); ++i) {
    insert(db, "INSERT INTO tobjects (tokid, attrs) VALUES (1, ?)", {chunks[i]}, {false});
  }
  read_everything(s);
  return 0;
}
