// SPDX-License-Identifier: BSD-2-Clause
#include "store/store.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.hpp"
#include "store/attr_yaml.hpp"
#include "store/lock_file.hpp"

namespace ptool::store {

namespace fs = std::filesystem;

namespace {

constexpr int k_busy_timeout_ms = 60000;

// Upstream's schema 8, statement for statement (docs/store-format.md §2.1): the library reads
// several tables with SELECT * and relies on this exact column order.
constexpr const char* k_schema_sql = R"(
CREATE TABLE tokens(
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    label TEXT UNIQUE,
    config TEXT NOT NULL,
    FOREIGN KEY (pid) REFERENCES pobjects(id) ON DELETE CASCADE
);
CREATE TABLE sealobjects(
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
CREATE TABLE pobjects(
    id INTEGER PRIMARY KEY,
    hierarchy TEXT NOT NULL,
    config TEXT NOT NULL,
    objauth TEXT NOT NULL
);
CREATE TABLE tobjects(
    id INTEGER PRIMARY KEY,
    tokid INTEGER NOT NULL,
    attrs TEXT NOT NULL,
    FOREIGN KEY (tokid) REFERENCES tokens(id) ON DELETE CASCADE
);
CREATE TABLE schema(
    id INTEGER PRIMARY KEY,
    schema_version INTEGER NOT NULL
);
CREATE TRIGGER limit_tokens
BEFORE INSERT ON tokens
BEGIN
    SELECT CASE WHEN
        (SELECT COUNT (*) FROM tokens) >= 255
    THEN
        RAISE(FAIL, "Maximum token count of 255 reached.")
    END;
END;
CREATE TRIGGER limit_tobjects
BEFORE INSERT ON tobjects
BEGIN
    SELECT CASE WHEN
        (SELECT COUNT (*) FROM tobjects) >= 16777215
    THEN
        RAISE(FAIL, "Maximum object count of 16777215 reached.")
    END;
END;
REPLACE INTO schema (id, schema_version) VALUES (1, 8);
)";

Error
query_too_long(const fs::path& file)
{
  return Error(Reason::k_store,
               file.string() + ": a query ran more than " + std::to_string(k_max_query_steps)
                 + " steps and was stopped: the store is crafted or damaged",
               "nothing was changed; restore the store from a backup");
}

// A prepared statement with typed binds and column reads.
class Stmt
{
public:
  Stmt(const Store& store, const char* sql) : m_store(store)
  {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(store.db(), sql, -1, &raw, nullptr);
    m_stmt.reset(raw);
    if (rc != SQLITE_OK) {
      fail(rc);
    }
  }
  Stmt& bind(int i, int64_t v)
  {
    check(sqlite3_bind_int64(m_stmt.get(), i, v));
    return *this;
  }
  Stmt& bind(int i, std::string_view v)
  {
    // A null pointer would bind SQL NULL; an empty string must stay ''.
    check(sqlite3_bind_text(m_stmt.get(), i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_blob(int i, std::span<const uint8_t> v)
  {
    check(sqlite3_bind_blob(m_stmt.get(), i,
                            v.data() ? v.data() : reinterpret_cast<const uint8_t*>(""),
                            static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_null(int i)
  {
    check(sqlite3_bind_null(m_stmt.get(), i));
    return *this;
  }
  // True while there is a row.
  bool step()
  {
    int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc != SQLITE_DONE) {
      fail(rc);
    }
    return false;
  }
  int64_t integer(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
  bool is_null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }
  // TEXT or BLOB column as bytes (upstream's tool stores some TEXT columns as BLOBs).
  std::string text(int col) const
  {
    const void* p = sqlite3_column_blob(m_stmt.get(), col);
    int n = sqlite3_column_bytes(m_stmt.get(), col);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  // The same without a copy: valid until the next step.
  std::string_view view(int col) const
  {
    const void* p = sqlite3_column_blob(m_stmt.get(), col);
    int n = sqlite3_column_bytes(m_stmt.get(), col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n))
             : std::string_view();
  }
  // A TEXT or BLOB column that holds a secret (pobjects.objauth), copied into wiped memory.
  SecureBytes secret(int col) const
  {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(m_stmt.get(), col));
    auto n = static_cast<size_t>(sqlite3_column_bytes(m_stmt.get(), col));
    return p ? SecureBytes(p, p + n) : SecureBytes();
  }
  Bytes blob(int col) const
  {
    const void* p = sqlite3_column_blob(m_stmt.get(), col);
    auto n = static_cast<size_t>(sqlite3_column_bytes(m_stmt.get(), col));
    Bytes out(p ? n : 0);
    if (!out.empty()) {
      std::memcpy(out.data(), p, n);
    }
    return out;
  }

private:
  void check(int rc)
  {
    if (rc != SQLITE_OK) {
      fail(rc);
    }
  }
  [[noreturn]] void fail(int rc) const
  {
    std::string msg = m_store.path().string() + ": " + sqlite3_errmsg(m_store.db());
    if (rc == SQLITE_NOTADB) {
      throw Error(Reason::k_store, m_store.path().string() + " is not an SQLite database",
                  "point --path / TPM2_PKCS11_STORE at a tpm2-pkcs11 store directory");
    }
    if (rc == SQLITE_FULL) {
      throw Error(Reason::k_store, msg, "the disk is full; nothing was written");
    }
    if (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_PERM) {
      throw Error(Reason::k_store, msg, "check the store's permissions");
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      throw Error(Reason::k_store, msg, "another process holds the store; try again");
    }
    if (rc == SQLITE_INTERRUPT) {
      throw query_too_long(m_store.path());
    }
    throw Error(Reason::k_store, msg);
  }

  const Store& m_store;
  SqliteStmt m_stmt;
};

[[noreturn]] void
bad_row(const Store& s, const char* table, int64_t id, const std::exception& e,
        const std::string& label = {})
{
  throw BadRowError(s.path().string() + ": " + table + " row " + std::to_string(id)
                      + " is unreadable: " + e.what(),
                    table, id, label);
}

Primary
primary_from(const Stmt& st, const Store& store)
{
  Primary p;
  p.id = st.integer(0);
  p.hierarchy = st.text(1);
  try {
    parse_primary_config(st.text(2), p);
  } catch (const std::exception& e) {
    bad_row(store, "pobjects", p.id, e);
  }
  p.objauth = st.secret(3);
  return p;
}

Token
token_from(const Stmt& st, const Store& store)
{
  Token t;
  t.id = st.integer(0);
  t.pid = st.integer(1);
  if (!st.is_null(2)) {
    t.label = st.text(2);
  }
  try {
    t.config = parse_token_config(st.text(3));
  } catch (const std::exception& e) {
    bad_row(store, "tokens", t.id, e, t.label.value_or(""));
  }
  return t;
}

Object
object_from(const Stmt& st, const Store& store)
{
  Object o;
  o.id = st.integer(0);
  o.tokid = st.integer(1);
  try {
    o.attrs = parse_attrs(st.text(2));
  } catch (const std::exception& e) {
    bad_row(store, "tobjects", o.id, e);
  }
  return o;
}

// Refuses a store path that is a symbolic link, or that belongs to someone other than the
// caller or root (who could then read or swap the database under us). `what`: "store
// directory" / "store database". Missing paths pass. `follow`: a link is allowed and its
// target checked (an existing store directory the user linked somewhere).
void
check_path_is_ours(const fs::path& path, const char* what, bool follow = false)
{
  struct stat st
  {};
  if ((follow ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0) {
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    throw Error(Reason::k_store,
                std::string(what) + " " + path.string()
                  + " is a symbolic link; refusing to follow it",
                "give the real path with --path / TPM2_PKCS11_STORE, or remove the link if you "
                "did not make it");
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    throw Error(Reason::k_store,
                std::string(what) + " " + path.string() + " belongs to uid "
                  + std::to_string(st.st_uid) + ", not to you (uid " + std::to_string(geteuid())
                  + ") or root: its owner could read or replace the store",
                "use a store of your own (--path / TPM2_PKCS11_STORE), or have it chowned to you");
  }
}

// Creates `dir` (0700) when missing; an existing one must be a real directory of ours.
void
ensure_dir(const fs::path& dir)
{
  check_path_is_ours(dir, "store directory");
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    return;
  }
  // No exists() check first: another process may create the directory between two checks
  // (two first commands on a new store), and EEXIST from mkdir is as good as our own.
  fs::create_directories(dir.parent_path(), ec);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(Reason::k_store,
                "cannot create store directory " + dir.string() + ": " + std::strerror(errno));
  }
  // mkdir never follows a link in the last component, but one may have appeared (EEXIST).
  check_path_is_ours(dir, "store directory");
  if (!fs::is_directory(dir, ec)) {
    throw Error(ExitCode::k_usage, "store path " + dir.string() + " is not a directory");
  }
}

// Creates the database file 0600 (whatever the umask; SQLite gives its journal the same
// mode) with O_EXCL|O_NOFOLLOW, so nothing is ever created where a symbolic link points; an
// existing file must be a regular file of ours.
void
ensure_db_file(const fs::path& db_path)
{
  check_path_is_ours(db_path, "store database");
  Fd fd(::open(db_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == EEXIST) {
    check_path_is_ours(db_path, "store database");
    return;
  }
  if (!fd) {
    throw Error(Reason::k_store, "cannot create " + db_path.string() + ": " + std::strerror(errno),
                "check the store directory's permissions");
  }
}

// "user alice" for the owner of `p`, "uid 1234" without a passwd entry; nullopt when even
// stat fails.
std::optional<std::string>
owner_name(const fs::path& p)
{
  struct stat st = {};
  if (::stat(p.c_str(), &st) != 0) {
    return std::nullopt;
  }
  if (const passwd* pw = ::getpwuid(st.st_uid)) {
    return std::string(pw->pw_name);
  }
  return "uid " + std::to_string(st.st_uid);
}

[[noreturn]] void
throw_permission(const fs::path& what, const fs::path& owned)
{
  std::optional<std::string> owner = owner_name(owned);
  std::string whose = owner ? " (the store of " + *owner + ")" : "";
  throw Error(Reason::k_store, "permission denied: cannot open " + what.string() + whose,
              (owner ? "run tpm2-ptool as " + *owner + ", or use" : "use")
                + " --path (or TPM2_PKCS11_STORE) for a store of your own");
}

// A writer killed mid-COMMIT leaves a hot journal; SQLite rolls it back on the next read, but
// only through a connection that may write, so a read-only open would fail until some writer
// came along. Let a short-lived read-write connection do that recovery (a plain read: when
// the journal belongs to a live writer, it is not hot and nothing is written).
void
recover_hot_journal(const fs::path& db_path)
{
  std::error_code ec;
  fs::path journal = db_path;
  journal += "-journal";
  if (!fs::exists(journal, ec) || access(db_path.c_str(), W_OK) != 0) {
    return;
  }
  sqlite3* raw = nullptr;
  int rc =
    sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  SqliteDb db(raw);
  if (rc == SQLITE_OK) {
    try {
      harden_connection(db.get(), db_path);
    } catch (const Error&) {
      return; // the real open reports it
    }
    sqlite3_busy_timeout(db.get(), k_busy_timeout_ms);
    sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  }
}

bool
is_link(const fs::path& p)
{
  std::error_code ec;
  return fs::is_symlink(p, ec);
}

// Progress-handler calls since the current statement started (the handler runs every
// k_progress_period VM steps; SQLITE_STMTSTATUS_VM_STEP is only updated when a step returns,
// so it cannot bound one endless step). Owned by the connection: freed with it through the
// destructor of a function registered only for that purpose.
constexpr int k_progress_period = 10000;
struct QueryBudget
{
  int64_t ticks = 0;
};

int
bound_queries(void* budget) noexcept
{
  return ++static_cast<QueryBudget*>(budget)->ticks > k_max_query_steps / k_progress_period;
}

int
statement_started(unsigned, void* budget, void*, void*) noexcept
{
  static_cast<QueryBudget*>(budget)->ticks = 0;
  return 0;
}

// The tables every reader uses, with the columns it reads (later schemas may add more).
struct ExpectedTable
{
  const char* name;
  std::vector<std::string_view> columns;
};

const std::vector<ExpectedTable>&
expected_tables()
{
  static const std::vector<ExpectedTable> k_tables = {
    {"schema", {"id", "schema_version"}},
    {"pobjects", {"id", "hierarchy", "config", "objauth"}},
    {"tokens", {"id", "pid", "label", "config"}},
    {"sealobjects",
     {"id", "tokid", "userpub", "userpriv", "userauthsalt", "sopub", "sopriv", "soauthsalt"}},
    {"tobjects", {"id", "tokid", "attrs"}},
  };
  return k_tables;
}

} // namespace

void
check_access(const fs::path& dir, bool write)
{
  fs::path db_path = dir / k_db_name;
  if (::access(db_path.c_str(), F_OK) != 0) {
    if (errno == EACCES) {
      throw_permission(db_path, dir); // the directory is not ours to enter
    }
    struct stat st = {};
    if (write && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)
        && ::access(dir.c_str(), W_OK | X_OK) != 0 && errno == EACCES) {
      throw_permission(dir, dir); // creating the database needs the directory
    }
    return;
  }
  if (::access(db_path.c_str(), write ? R_OK | W_OK : R_OK) != 0 && errno == EACCES) {
    throw_permission(db_path, db_path);
  }
  // SQLite writes its journal next to the database.
  if (write && ::access(dir.c_str(), W_OK | X_OK) != 0 && errno == EACCES) {
    throw_permission(dir, dir);
  }
}

void
harden_connection(sqlite3* db, const fs::path& file)
{
  int on = -1;
  int off = -1;
  bool ok =
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) == SQLITE_OK && on == 1
    && sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &off) == SQLITE_OK && off == 0
    && sqlite3_exec(db, "PRAGMA trusted_schema = OFF", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    throw Error(Reason::k_store, "cannot open " + file.string() + " safely: " + sqlite3_errmsg(db),
                "this SQLite library lacks SQLITE_DBCONFIG_DEFENSIVE / trusted_schema (3.31+)");
  }
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, k_max_value_bytes);
  // Owned by the connection from here on: SQLite calls the destructor below when the function
  // is dropped (at close), or at once when the call fails.
  QueryBudget* budget = std::make_unique<QueryBudget>().release();
  if (sqlite3_create_function_v2(
        db, "ptool_query_budget", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, budget,
        [](sqlite3_context* c, int, sqlite3_value**) { sqlite3_result_null(c); }, nullptr, nullptr,
        [](void* p) { std::unique_ptr<QueryBudget>(static_cast<QueryBudget*>(p)); })
      != SQLITE_OK) {
    // SQLite has already called the destructor on `budget` (sqlite3_create_function_v2).
    throw Error(Reason::k_store, "cannot open " + file.string() + ": " + sqlite3_errmsg(db));
  }
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, statement_started, budget);
  sqlite3_progress_handler(db, k_progress_period, bound_queries, budget);
}

Store
Store::open(const fs::path& dir, Mode mode)
{
  fs::path db_path = dir / k_db_name;
  std::error_code ec;
  check_access(dir, mode != Mode::k_read_only);
  if (mode != Mode::k_read_write && !fs::exists(db_path, ec)) {
    throw Error(ExitCode::k_not_found, "no store at " + db_path.string(),
                "create one with 'tpm2-ptool init', or point --path / TPM2_PKCS11_STORE at it");
  }
  if (mode == Mode::k_read_write) {
    ensure_dir(dir);
    ensure_db_file(db_path);
  } else {
    check_path_is_ours(dir, "store directory", true);
    check_path_is_ours(db_path, "store database");
  }
  if (mode == Mode::k_read_only) {
    recover_hot_journal(db_path);
  }
  sqlite3* raw = nullptr;
  int flags = (mode == Mode::k_read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE)
              | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
  int rc = sqlite3_open_v2(db_path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) {
    bool link = (rc & 0xff) == SQLITE_CANTOPEN && is_link(db_path);
    throw Error(Reason::k_store,
                "cannot open " + db_path.string() + ": "
                  + (link ? std::string("it is a symbolic link")
                          : std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))),
                link ? "a store's database is never opened through a symlink: point --path / "
                       "TPM2_PKCS11_STORE at the directory that holds the real file"
                     : "");
  }
  harden_connection(db.get(), db_path);
  sqlite3_busy_timeout(db.get(), k_busy_timeout_ms);
  sqlite3_extended_result_codes(db.get(), 0);
  Store store(db_path, std::move(db));
  store.exec("PRAGMA foreign_keys = ON");
  store.check_schema(mode);
  return store;
}

void
Store::check_schema(Mode mode)
{
  auto read_version = [this]() -> std::optional<int> {
    Stmt tables(*this, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema'");
    tables.step();
    if (tables.integer(0) == 0) {
      return std::nullopt;
    }
    Stmt v(*this, "SELECT schema_version FROM schema WHERE id=1");
    if (!v.step()) {
      return 0;
    }
    return static_cast<int>(v.integer(0));
  };
  std::optional<int> version = read_version();
  if (!version && mode == Mode::k_read_write) {
    LockFile lock(m_path.string() + ".lock");
    Transaction tx(*this);
    version = read_version();
    if (!version) {
      Stmt count(*this, "SELECT count(*) FROM sqlite_master WHERE type='table'");
      count.step();
      if (count.integer(0) != 0) {
        throw Error(Reason::k_store,
                    m_path.string() + " has tables but no schema version: not a tpm2-pkcs11 store",
                    "point --path / TPM2_PKCS11_STORE at a tpm2-pkcs11 store directory");
      }
      exec(k_schema_sql);
      version = k_schema_version;
    }
    tx.commit();
  }
  if (!version) {
    throw Error(ExitCode::k_not_found, m_path.string() + " is an empty store",
                "create a primary with 'tpm2-ptool init'");
  }
  if (*version == 0) {
    throw Error(Reason::k_store, m_path.string() + " has an empty schema table",
                "the store is damaged; restore it from a backup");
  }
  if (*version > 9) {
    throw Error(Reason::k_store,
                m_path.string() + " has schema version " + std::to_string(*version)
                  + ", newer than this tool understands (8 and 9)",
                "use the tpm2-pkcs11 release that wrote it, or upgrade tpm2-ptool");
  }
  if (*version < k_schema_version) {
    throw OldSchemaError(m_path.string() + " has old schema version " + std::to_string(*version),
                         *version);
  }
  m_version = *version;
  check_tables();
}

// Before any row is read: the five tables must be real tables (not views, whose SELECT could
// recurse forever) with the columns the readers use. A crafted store fails here, clearly.
void
Store::check_tables() const
{
  for (const ExpectedTable& t : expected_tables()) {
    Stmt type(*this, "SELECT type FROM sqlite_master WHERE name=? COLLATE NOCASE");
    type.bind(1, std::string_view(t.name));
    std::string kind = type.step() ? type.text(0) : std::string();
    if (kind != "table") {
      throw Error(Reason::k_store,
                  m_path.string() + ": '" + t.name + "' is "
                    + (kind.empty() ? std::string("missing") : "a " + kind + ", not a table")
                    + ": not a tpm2-pkcs11 store (crafted or damaged)",
                  "nothing was read from it; restore the store from a backup, or point --path / "
                  "TPM2_PKCS11_STORE at the right directory");
    }
    Stmt cols(*this, "SELECT name FROM pragma_table_info(?)");
    cols.bind(1, std::string_view(t.name));
    std::vector<std::string> have;
    while (cols.step()) {
      have.push_back(cols.text(0));
    }
    for (std::string_view c : t.columns) {
      if (std::find(have.begin(), have.end(), c) == have.end()) {
        throw Error(Reason::k_store,
                    m_path.string() + ": table '" + t.name + "' has no column '" + std::string(c)
                      + "': not a tpm2-pkcs11 store (crafted or damaged)",
                    "nothing was read from it; restore the store from a backup");
      }
    }
  }
}

void
Store::exec(const char* sql)
{
  char* err = nullptr;
  int rc = sqlite3_exec(m_db.get(), sql, nullptr, nullptr, &err);
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc == SQLITE_NOTADB) {
    throw Error(Reason::k_store, m_path.string() + " is not an SQLite database",
                "point --path / TPM2_PKCS11_STORE at a tpm2-pkcs11 store directory");
  }
  if (rc == SQLITE_INTERRUPT) {
    throw query_too_long(m_path);
  }
  if (rc != SQLITE_OK) {
    throw Error(Reason::k_store, m_path.string() + ": " + msg,
                rc == SQLITE_FULL ? "the disk is full; nothing was written" : "");
  }
}

std::vector<Primary>
Store::primaries() const
{
  std::vector<Primary> out;
  Stmt st(*this, "SELECT id, hierarchy, config, objauth FROM pobjects ORDER BY id");
  while (st.step()) {
    out.push_back(primary_from(st, *this));
  }
  return out;
}

std::optional<Primary>
Store::primary(int64_t id) const
{
  Stmt st(*this, "SELECT id, hierarchy, config, objauth FROM pobjects WHERE id=?");
  st.bind(1, id);
  if (!st.step()) {
    return std::nullopt;
  }
  return primary_from(st, *this);
}

std::vector<Token>
Store::tokens(std::optional<int64_t> pid) const
{
  std::vector<Token> out;
  Stmt st(*this, pid ? "SELECT id, pid, label, config FROM tokens WHERE pid=? ORDER BY id"
                     : "SELECT id, pid, label, config FROM tokens ORDER BY id");
  if (pid) {
    st.bind(1, *pid);
  }
  while (st.step()) {
    out.push_back(token_from(st, *this));
  }
  return out;
}

std::optional<Token>
Store::token_by_label(std::string_view label) const
{
  Stmt st(*this, "SELECT id, pid, label, config FROM tokens WHERE label=?");
  st.bind(1, label);
  if (!st.step()) {
    return std::nullopt;
  }
  return token_from(st, *this);
}

std::optional<SealObject>
Store::seal_object(int64_t tokid) const
{
  Stmt st(*this, "SELECT id, tokid, userpub, userpriv, userauthsalt, sopub, sopriv, soauthsalt "
                 "FROM sealobjects WHERE tokid=? ORDER BY id LIMIT 1");
  st.bind(1, tokid);
  if (!st.step()) {
    return std::nullopt;
  }
  SealObject s;
  s.id = st.integer(0);
  s.tokid = st.integer(1);
  if (!st.is_null(2) && !st.is_null(3) && !st.is_null(4) && !st.blob(2).empty()) {
    s.user = SealBlobs{st.blob(2), st.blob(3), st.text(4)};
  }
  s.so = SealBlobs{st.blob(5), st.blob(6), st.text(7)};
  return s;
}

std::vector<Object>
Store::objects(int64_t tokid) const
{
  std::vector<Object> out;
  Stmt st(*this, "SELECT id, tokid, attrs FROM tobjects WHERE tokid=? ORDER BY id");
  st.bind(1, tokid);
  while (st.step()) {
    out.push_back(object_from(st, *this));
  }
  return out;
}

std::vector<Token>
Store::tokens_skipping(const BadRow& bad, std::optional<int64_t> pid) const
{
  std::vector<Token> out;
  Stmt st(*this, pid ? "SELECT id, pid, label, config FROM tokens WHERE pid=? ORDER BY id"
                     : "SELECT id, pid, label, config FROM tokens ORDER BY id");
  if (pid) {
    st.bind(1, *pid);
  }
  while (st.step()) {
    try {
      out.push_back(token_from(st, *this));
    } catch (const Error& e) {
      bad(e);
    }
  }
  return out;
}

std::vector<Object>
Store::objects_skipping(int64_t tokid, const BadRow& bad) const
{
  std::vector<Object> out;
  Stmt st(*this, "SELECT id, tokid, attrs FROM tobjects WHERE tokid=? ORDER BY id");
  st.bind(1, tokid);
  while (st.step()) {
    try {
      out.push_back(object_from(st, *this));
    } catch (const Error& e) {
      bad(e);
    }
  }
  return out;
}

void
Store::object_rows(int64_t tokid, const std::function<void(int64_t, std::string_view)>& row) const
{
  Stmt st(*this, "SELECT id, attrs FROM tobjects WHERE tokid=? ORDER BY id");
  st.bind(1, tokid);
  while (st.step()) {
    row(st.integer(0), st.view(1));
  }
}

std::optional<Object>
Store::object(int64_t id) const
{
  Stmt st(*this, "SELECT id, tokid, attrs FROM tobjects WHERE id=?");
  st.bind(1, id);
  if (!st.step()) {
    return std::nullopt;
  }
  return object_from(st, *this);
}

int64_t
Store::insert_primary(const Primary& p)
{
  Stmt st(*this, "INSERT INTO pobjects (hierarchy, config, objauth) VALUES (?, ?, ?)");
  st.bind(1, p.hierarchy).bind(2, emit_primary_config(p)).bind(3, p.objauth.view());
  st.step();
  return sqlite3_last_insert_rowid(m_db.get());
}

int64_t
Store::insert_token(const Token& t)
{
  Stmt st(*this, "INSERT INTO tokens (pid, label, config) VALUES (?, ?, ?)");
  st.bind(1, t.pid);
  if (t.label) {
    st.bind(2, *t.label);
  } else {
    st.bind_null(2);
  }
  st.bind(3, emit_token_config(t.config));
  st.step();
  return sqlite3_last_insert_rowid(m_db.get());
}

int64_t
Store::insert_seal_object(const SealObject& s)
{
  Stmt st(*this, "INSERT INTO sealobjects (tokid, userpub, userpriv, userauthsalt, sopub, "
                 "sopriv, soauthsalt) VALUES (?, ?, ?, ?, ?, ?, ?)");
  st.bind(1, s.tokid);
  if (s.user) {
    st.bind_blob(2, s.user->pub).bind_blob(3, s.user->priv).bind(4, s.user->salt);
  } else {
    st.bind_null(2).bind_null(3).bind_null(4);
  }
  st.bind_blob(5, s.so.pub).bind_blob(6, s.so.priv).bind(7, s.so.salt);
  st.step();
  return sqlite3_last_insert_rowid(m_db.get());
}

int64_t
Store::insert_object(int64_t tokid, const AttrMap& attrs)
{
  Stmt st(*this, "INSERT INTO tobjects (tokid, attrs) VALUES (?, ?)");
  st.bind(1, tokid).bind(2, emit_attrs(attrs));
  st.step();
  return sqlite3_last_insert_rowid(m_db.get());
}

void
Store::update_seal_user(int64_t tokid, const SealBlobs& user)
{
  Stmt st(*this, "UPDATE sealobjects SET userpub = ?, userpriv = ?, userauthsalt = ? "
                 "WHERE tokid = ?");
  st.bind_blob(1, user.pub).bind_blob(2, user.priv).bind(3, user.salt).bind(4, tokid);
  st.step();
  if (sqlite3_changes(m_db.get()) != 1) {
    throw_not_found("token " + std::to_string(tokid) + " has no seal object row");
  }
}

void
Store::update_seal_so(int64_t tokid, const SealBlobs& so)
{
  Stmt st(*this, "UPDATE sealobjects SET sopub = ?, sopriv = ?, soauthsalt = ? WHERE tokid = ?");
  st.bind_blob(1, so.pub).bind_blob(2, so.priv).bind(3, so.salt).bind(4, tokid);
  st.step();
  if (sqlite3_changes(m_db.get()) != 1) {
    throw_not_found("token " + std::to_string(tokid) + " has no seal object row");
  }
}

void
Store::update_object_attrs(int64_t id, const AttrMap& attrs)
{
  Stmt st(*this, "UPDATE tobjects SET attrs=? WHERE id=?");
  st.bind(1, emit_attrs(attrs)).bind(2, id);
  st.step();
}

void
Store::update_token_config(int64_t id, const TokenConfig& config)
{
  Stmt st(*this, "UPDATE tokens SET config=? WHERE id=?");
  st.bind(1, emit_token_config(config)).bind(2, id);
  st.step();
}

bool
Store::delete_object(int64_t id)
{
  Stmt st(*this, "DELETE FROM tobjects WHERE id=?");
  st.bind(1, id);
  st.step();
  return sqlite3_changes(m_db.get()) > 0;
}

bool
Store::delete_token(int64_t id)
{
  Stmt objs(*this, "DELETE FROM tobjects WHERE tokid=?");
  objs.bind(1, id);
  objs.step();
  Stmt seals(*this, "DELETE FROM sealobjects WHERE tokid=?");
  seals.bind(1, id);
  seals.step();
  Stmt st(*this, "DELETE FROM tokens WHERE id=?");
  st.bind(1, id);
  st.step();
  return sqlite3_changes(m_db.get()) > 0;
}

bool
Store::delete_primary(int64_t id)
{
  // Plain SQL rather than tokens(): a token row we cannot parse must still go.
  for (const char* sql : {"DELETE FROM tobjects WHERE tokid IN (SELECT id FROM tokens WHERE pid=?)",
                          "DELETE FROM sealobjects WHERE tokid IN "
                          "(SELECT id FROM tokens WHERE pid=?)",
                          "DELETE FROM tokens WHERE pid=?"}) {
    Stmt child(*this, sql);
    child.bind(1, id);
    child.step();
  }
  Stmt st(*this, "DELETE FROM pobjects WHERE id=?");
  st.bind(1, id);
  st.step();
  return sqlite3_changes(m_db.get()) > 0;
}

Transaction::Transaction(Store& store) : m_store(store)
{
  m_store.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction()
{
  if (!m_done) {
    sqlite3_exec(m_store.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void
Transaction::commit()
{
  m_store.exec("COMMIT");
  m_done = true;
}

} // namespace ptool::store
