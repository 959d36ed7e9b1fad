// SPDX-License-Identifier: BSD-2-Clause
#include "store/upgrade.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "store/attr_yaml.hpp"
#include "store/lock_file.hpp"
#include "store/store.hpp"

namespace ptool::store {

namespace fs = std::filesystem;

namespace {

constexpr int k_busy_timeout_ms = 60000;

[[noreturn]] void
fail(sqlite3* db, const fs::path& file, const std::string& what)
{
  throw Error(Reason::k_store,
              file.string() + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "cannot open"),
              "the store was not changed");
}

void
exec(sqlite3* db, const fs::path& file, const std::string& sql)
{
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail(db, file, "upgrade step failed");
  }
}

SqliteDb
open_db(const fs::path& file)
{
  sqlite3* raw = nullptr;
  int rc =
    sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) {
    fail(raw, file, "cannot open");
  }
  harden_connection(db.get(), file);
  sqlite3_busy_timeout(db.get(), k_busy_timeout_ms);
  return db;
}

SqliteStmt
prepare(sqlite3* db, const fs::path& file, const char* sql)
{
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    fail(db, file, "cannot read");
  }
  return SqliteStmt(raw);
}

std::string
column_text(sqlite3_stmt* st, int col)
{
  const void* p = sqlite3_column_blob(st, col);
  int n = sqlite3_column_bytes(st, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// A column that holds a secret (pobjects.objauth), copied into wiped memory.
SecureBytes
column_secret(sqlite3_stmt* st, int col)
{
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, col));
  auto n = static_cast<size_t>(sqlite3_column_bytes(st, col));
  return p ? SecureBytes(p, p + n) : SecureBytes();
}

// schema_version, or nullopt for a database without the schema table (new / not a store).
std::optional<int>
read_version(sqlite3* db, const fs::path& file)
{
  SqliteStmt t = prepare(db, file, "SELECT count(*) FROM sqlite_master WHERE name='schema'");
  if (sqlite3_step(t.get()) != SQLITE_ROW || sqlite3_column_int(t.get(), 0) == 0) {
    return std::nullopt;
  }
  SqliteStmt v = prepare(db, file, "SELECT schema_version FROM schema WHERE id=1");
  if (sqlite3_step(v.get()) != SQLITE_ROW) {
    throw Error(Reason::k_store, file.string() + " has an empty schema table",
                "the store is damaged; restore it from a backup");
  }
  return sqlite3_column_int(v.get(), 0);
}

// Before anything is copied or rewritten: the five tables an upgrade reads must be real
// tables (a view's SELECT could be anything) with the columns the steps from `version` use.
// The store is untrusted input (the PKCS#11 module upgrades stores it opens).
void
check_old_tables(sqlite3* db, const fs::path& file, int version)
{
  struct Table
  {
    const char* name;
    std::vector<std::string> columns;
  };
  const std::vector<Table> tables = {
    {"schema", {"id", "schema_version"}},
    {"tokens", {"id", "pid", "label", "config"}},
    {"sealobjects",
     {"id", "tokid", "userpub", "userpriv", "userauthsalt", "sopub", "sopriv", "soauthsalt"}},
    {"pobjects", {"id", "hierarchy", version < 4 ? "handle" : "config", "objauth"}},
    {"tobjects", {"id", "tokid", "attrs"}},
  };
  for (const Table& t : tables) {
    SqliteStmt type =
      prepare(db, file, "SELECT type FROM sqlite_master WHERE name=? COLLATE NOCASE");
    sqlite3_bind_text(type.get(), 1, t.name, -1, SQLITE_STATIC);
    std::string kind = sqlite3_step(type.get()) == SQLITE_ROW ? column_text(type.get(), 0) : "";
    SqliteStmt cols = prepare(db, file, "SELECT name FROM pragma_table_info(?)");
    sqlite3_bind_text(cols.get(), 1, t.name, -1, SQLITE_STATIC);
    std::vector<std::string> have;
    while (sqlite3_step(cols.get()) == SQLITE_ROW) {
      have.push_back(column_text(cols.get(), 0));
    }
    std::string missing;
    for (const std::string& c : t.columns) {
      if (std::find(have.begin(), have.end(), c) == have.end()) {
        missing = c;
        break;
      }
    }
    if (kind != "table" || !missing.empty()) {
      throw Error(Reason::k_store,
                  file.string() + " (schema " + std::to_string(version) + "): '" + t.name + "' "
                    + (kind != "table" ? (kind.empty() ? std::string("is missing")
                                                       : "is a " + kind + ", not a table")
                                       : "has no column '" + missing + "'")
                    + ": not a tpm2-pkcs11 store (crafted or damaged)",
                  "the store was not changed; restore it from a backup");
    }
  }
}

// 1 -> 2: user seal columns become nullable; the count-limit triggers appear.
void
step_2(sqlite3* db, const fs::path& f)
{
  exec(db, f, R"(
CREATE TABLE sealobjects_new2(
    id INTEGER PRIMARY KEY,
    tokid INTEGER NOT NULL,
    userpub BLOB,
    userpriv BLOB,
    userauthsalt TEXT,
    sopub BLOB NOT NULL,
    sopriv BLOB NOT NULL,
    soauthsalt TEXT NOT NULL,
    FOREIGN KEY (tokid) REFERENCES tokens(id) ON DELETE CASCADE
);
INSERT INTO sealobjects_new2 SELECT * FROM sealobjects;
DROP TABLE sealobjects;
ALTER TABLE sealobjects_new2 RENAME TO sealobjects;
CREATE TRIGGER IF NOT EXISTS limit_tokens
BEFORE INSERT ON tokens
BEGIN
    SELECT CASE WHEN
        (SELECT COUNT (*) FROM tokens) >= 255
    THEN
        RAISE(FAIL, "Maximum token count of 255 reached.")
    END;
END;
CREATE TRIGGER IF NOT EXISTS limit_tobjects
BEFORE INSERT ON tobjects
BEGIN
    SELECT CASE WHEN
        (SELECT COUNT (*) FROM tobjects) >= 16777215
    THEN
        RAISE(FAIL, "Maximum object count of 16777215 reached.")
    END;
END;
)");
}

// 2 -> 3
void
step_3(sqlite3* db, const fs::path& f)
{
  exec(db, f, "DROP TRIGGER IF EXISTS limit_tobjects;");
}

// 3 -> 4: pobjects.handle (serialized ESYS_TR blob) becomes the YAML config column.
void
step_4(sqlite3* db, const fs::path& f)
{
  exec(db, f, R"(
CREATE TABLE pobjects2(
    id INTEGER PRIMARY KEY,
    hierarchy TEXT NOT NULL,
    config TEXT NOT NULL,
    objauth TEXT NOT NULL
);)");
  SqliteStmt rd = prepare(db, f, "SELECT id, hierarchy, handle, objauth FROM pobjects");
  SqliteStmt wr = prepare(db, f,
                          "INSERT INTO pobjects2 (id, hierarchy, config, objauth) "
                          "VALUES (?, ?, ?, ?)");
  while (sqlite3_step(rd.get()) == SQLITE_ROW) {
    Primary p;
    p.transient = false;
    std::string handle = column_text(rd.get(), 2);
    p.esys_tr = Bytes(handle.begin(), handle.end());
    std::string hierarchy = column_text(rd.get(), 1);
    std::string config = emit_primary_config(p);
    SecureBytes auth = column_secret(rd.get(), 3);
    sqlite3_reset(wr.get());
    sqlite3_bind_int64(wr.get(), 1, sqlite3_column_int64(rd.get(), 0));
    sqlite3_bind_text(wr.get(), 2, hierarchy.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(wr.get(), 3, config.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(wr.get(), 4, auth.empty() ? "" : reinterpret_cast<const char*>(auth.data()),
                      static_cast<int>(auth.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(wr.get()) != SQLITE_DONE) {
      fail(db, f, "cannot convert pobjects");
    }
  }
  exec(db, f, "DROP TABLE pobjects; ALTER TABLE pobjects2 RENAME TO pobjects;");
}

using Mechs = std::vector<uint64_t>;

void
add_missing(Mechs& m, uint64_t mech)
{
  if (std::find(m.begin(), m.end(), mech) == m.end()) {
    m.push_back(mech);
  }
}

// Rewrites every tobjects row through `fix` (which returns whether it changed the map);
// `always` rewrites unchanged rows too (7 -> 8 re-encodes every attribute map).
void
rewrite_objects(sqlite3* db, const fs::path& f, const std::function<bool(AttrMap&)>& fix,
                bool always)
{
  SqliteStmt rd = prepare(db, f, "SELECT id, attrs FROM tobjects ORDER BY id");
  SqliteStmt wr = prepare(db, f, "UPDATE tobjects SET attrs=? WHERE id=?");
  while (sqlite3_step(rd.get()) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(rd.get(), 0);
    AttrMap attrs;
    try {
      attrs = parse_attrs(column_text(rd.get(), 1));
    } catch (const std::exception& e) {
      throw Error(Reason::k_store,
                  f.string() + ": tobjects row " + std::to_string(id)
                    + " is unreadable: " + e.what(),
                  "the store was not changed");
    }
    if (!fix(attrs) && !always) {
      continue;
    }
    std::string yaml = emit_attrs(attrs);
    sqlite3_reset(wr.get());
    sqlite3_bind_text(wr.get(), 1, yaml.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(wr.get(), 2, id);
    if (sqlite3_step(wr.get()) != SQLITE_DONE) {
      fail(db, f, "cannot rewrite tobjects");
    }
  }
}

Mechs*
mechs_of(AttrMap& a, uint64_t cls, uint64_t key_type)
{
  auto c = a.find(ck::k_class);
  auto k = a.find(ck::k_key_type);
  auto m = a.find(ck::k_allowed_mechanisms);
  if (c == a.end() || k == a.end() || m == a.end() || c->second.num != cls
      || k->second.num != key_type || m->second.kind != AttrValue::Kind::k_seq) {
    return nullptr;
  }
  return &m->second.seq;
}

// The intent of upstream's steps 5-7 (its Python versions have inverted conditions and
// duplicate entries): AES keys gain CBC_PAD and CTR, EC private keys the hashing ECDSA
// mechanisms, and no list keeps a 0 (CKM_RSA_PKCS_KEY_PAIR_GEN) left by older bugs.
bool
fix_step(AttrMap& a, int step)
{
  Mechs before;
  Mechs* aes = mechs_of(a, ck::k_o_secret_key, ck::k_k_aes);
  Mechs* ec = mechs_of(a, ck::k_o_private_key, ck::k_k_ec);
  Mechs* m = aes ? aes : ec;
  if (!m) {
    return false;
  }
  before = *m;
  if (aes && step >= 5) {
    add_missing(*aes, ck::k_m_aes_cbc_pad);
    add_missing(*aes, ck::k_m_aes_ctr);
    Mechs dedup;
    for (uint64_t x : *aes) {
      add_missing(dedup, x);
    }
    *aes = dedup;
  }
  if (ec && step == 6) {
    for (uint64_t x : {ck::k_m_ecdsa_sha256, ck::k_m_ecdsa_sha384, ck::k_m_ecdsa_sha512}) {
      add_missing(*ec, x);
    }
  }
  if (step == 7) {
    m->erase(std::remove(m->begin(), m->end(), 0), m->end());
  }
  return *m != before;
}

void
run_steps(sqlite3* db, const fs::path& f, int from)
{
  if (from < 2) {
    step_2(db, f);
  }
  if (from < 3) {
    step_3(db, f);
  }
  if (from < 4) {
    step_4(db, f);
  }
  for (int step = std::max(from + 1, 5); step <= 7; ++step) {
    rewrite_objects(
      db, f, [step](AttrMap& a) { return fix_step(a, step); }, false);
  }
  // 7 -> 8: CKA_ALLOWED_MECHANISMS stored as a hex string of native CK_ULONGs becomes a
  // !!seq; parse_attrs already reads both forms, so re-emitting every row converts it.
  rewrite_objects(
    db, f, [](AttrMap&) { return false; }, true);
  exec(db, f, "REPLACE INTO schema (id, schema_version) VALUES (1, 8);");
}

// Removes the .bak copy unless the upgrade completed (it was renamed over the database).
class BackupFile
{
public:
  explicit BackupFile(fs::path p) : m_path(std::move(p)) {}
  ~BackupFile()
  {
    if (!m_done) {
      unlink(m_path.c_str());
      unlink((m_path.string() + "-journal").c_str());
    }
  }
  BackupFile(const BackupFile&) = delete;
  BackupFile& operator=(const BackupFile&) = delete;
  void done() { m_done = true; }
  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
  bool m_done = false;
};

} // namespace

UpgradeResult
upgrade_store(const fs::path& dir)
{
  fs::path db_path = dir / k_db_name;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    Store::open(dir, Store::Mode::k_read_write); // upstream's dbup creates a fresh store
    return {k_schema_version, k_schema_version};
  }
  std::optional<LockFile> lock;
  lock.emplace(db_path.string() + ".lock");
  SqliteDb src = open_db(db_path);
  std::optional<int> version = read_version(src.get(), db_path);
  if (!version) {
    // An empty file (a concurrent first open is creating the store): Store::open takes the
    // lock itself and re-checks under it. Ours is released first: a second flock on a new
    // descriptor of the same file would wait for this process forever.
    src.reset();
    lock.reset();
    Store::open(dir, Store::Mode::k_read_write); // empty file: create; else explains
    return {k_schema_version, k_schema_version};
  }
  if (*version > 9) {
    throw Error(Reason::k_store,
                db_path.string() + " has schema version " + std::to_string(*version)
                  + ", newer than this tool understands (up to 9)",
                "use the tpm2-pkcs11 release that wrote it");
  }
  if (*version >= k_schema_version) {
    return {*version, *version};
  }
  if (*version < 1) {
    throw Error(Reason::k_store,
                db_path.string() + " has invalid schema version " + std::to_string(*version));
  }
  check_old_tables(src.get(), db_path, *version);

  // Create the copy ourselves (O_EXCL: a leftover .bak means an earlier upgrade died and
  // must be looked at) with the database's own permissions.
  fs::path bak_path = db_path.string() + ".bak";
  struct stat st
  {};
  ::stat(db_path.c_str(), &st);
  Fd bak_fd(::open(bak_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, st.st_mode & 0777));
  if (!bak_fd) {
    if (errno == EEXIST) {
      throw Error(Reason::k_store, bak_path.string() + " exists: an earlier upgrade did not finish",
                  "check which file is intact, then move " + bak_path.filename().string()
                    + " out of the way and run dbup again");
    }
    throw Error(Reason::k_store,
                "cannot create " + bak_path.string() + ": " + std::strerror(errno));
  }
  BackupFile bak(bak_path);
  bak_fd.close();

  // Keep other writers out from the copy until the rename (RESERVED lock on `src`); the
  // copy itself reads through a second connection, since the backup API refuses a source
  // connection that is inside a write transaction.
  if (sqlite3_exec(src.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail(src.get(), db_path, "cannot lock the store");
  }
  {
    SqliteDb reader = open_db(db_path);
    SqliteDb dst = open_db(bak_path);
    CHandle<sqlite3_backup, sqlite3_backup_finish> backup(
      sqlite3_backup_init(dst.get(), "main", reader.get(), "main"));
    int rc = backup ? sqlite3_backup_step(backup.get(), -1) : SQLITE_ERROR;
    backup.reset();
    if (rc != SQLITE_DONE) {
      throw Error(Reason::k_store,
                  "cannot copy " + db_path.string() + " to " + bak_path.filename().string() + ": "
                    + sqlite3_errstr(rc),
                  "the store was not changed");
    }
    // Table rebuilds must not cascade deletes through the foreign keys.
    exec(dst.get(), bak_path, "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE;");
    run_steps(dst.get(), bak_path, *version);
    exec(dst.get(), bak_path, "COMMIT;");
  }
  if (::rename(bak_path.c_str(), db_path.c_str()) != 0) {
    throw Error(Reason::k_store, "cannot replace " + db_path.string() + ": " + std::strerror(errno),
                "the store was not changed");
  }
  bak.done();
  sqlite3_exec(src.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  return {*version, k_schema_version};
}

} // namespace ptool::store
