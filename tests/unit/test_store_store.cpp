// SPDX-License-Identifier: BSD-2-Clause
// The SQLite store: upstream's exact schema, row round trips, transactions and concurrency,
// on real SQLite files in a private temporary directory per test.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/keys/pkcs11_ids.hpp"
#include "store/store.hpp"
#include "unit_helpers.hpp"

namespace ptool::store {
namespace {

namespace fs = std::filesystem;
using V = AttrValue;

class StoreTest : public ::testing::Test
{
protected:
  fs::path dir() const { return m_tmp.path() / "store"; }
  fs::path db_file() const { return dir() / k_db_name; }
  Store open_rw() { return Store::open(dir(), Store::Mode::k_read_write); }
  Store open_ro() { return Store::open(dir(), Store::Mode::k_read_only); }

  // One row per statement of `sql` run on a fresh connection (independent of Store).
  std::vector<std::string> query(const std::string& sql)
  {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_file().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    SqliteDb db(raw);
    std::vector<std::string> rows;
    auto cb = [](void* out, int n, char** vals, char**) {
      std::string row;
      for (int i = 0; i < n; ++i) {
        row += (i ? "|" : "") + std::string(vals[i] ? vals[i] : "NULL");
      }
      static_cast<std::vector<std::string>*>(out)->push_back(row);
      return 0;
    };
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db.get(), sql.c_str(), cb, &rows, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    return rows;
  }

  Primary sample_primary()
  {
    Primary p;
    p.transient = false;
    p.esys_tr = {0x81, 0x00, 0x00, 0x01, 0x00, 0x22};
    p.objauth = SecureBytes::from("mypobjpin");
    return p;
  }

  test::TempDir m_tmp;
};

TEST_F(StoreTest, CreatesPrivateFilesWithUpstreamSchema)
{
  ASSERT_FALSE(fs::exists(dir()));
  {
    Store s = open_rw();
    EXPECT_EQ(s.schema_version(), 8);
    EXPECT_EQ(s.path(), db_file());
  }
  struct stat st
  {};
  ASSERT_EQ(stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat(db_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(fs::exists(db_file().string() + ".lock"));
  EXPECT_FALSE(fs::exists(db_file().string() + "-journal"));

  // `sqlite3 .schema` of a store made by upstream's tool, statement for statement.
  std::string expected = test::upstream_sample_output("\".schema\"");
  std::string actual;
  for (const std::string& sql :
       query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")) {
    actual += sql + ";\n";
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(query("SELECT id, schema_version FROM schema"), std::vector<std::string>{"1|8"});
  EXPECT_EQ(
    query("SELECT type, name FROM sqlite_master ORDER BY rowid"),
    (std::vector<std::string>{"table|tokens", "index|sqlite_autoindex_tokens_1",
                              "table|sealobjects", "table|pobjects", "table|tobjects",
                              "table|schema", "trigger|limit_tokens", "trigger|limit_tobjects"}));
  // Rollback journal, as upstream (no WAL).
  EXPECT_EQ(query("PRAGMA journal_mode"), std::vector<std::string>{"delete"});

  // Reopening does not touch the schema.
  Store again = open_rw();
  EXPECT_EQ(again.schema_version(), 8);
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master"), std::vector<std::string>{"8"});
}

TEST_F(StoreTest, RoundTripsEveryRowType)
{
  Store s = open_rw();
  Transaction tx(s);
  Primary p = sample_primary();
  int64_t pid = s.insert_primary(p);
  Primary tp;
  tp.transient = true;
  tp.template_name = "tss2-engine-key";
  int64_t tpid = s.insert_primary(tp);

  Token t;
  t.pid = pid;
  t.label = "tok";
  t.config.pss_sigs_good = true;
  t.config.empty_user_pin = true;
  int64_t tokid = s.insert_token(t);
  Token empty;
  empty.pid = tpid;
  empty.config.token_init = false;
  int64_t empty_id = s.insert_token(empty);

  SealObject seal;
  seal.tokid = tokid;
  seal.user = SealBlobs{{0x00, 0x02, 0xaa, 0xbb}, {0x00, 0x01, 0xcc}, std::string(64, 'a')};
  seal.so = SealBlobs{{0x00, 0x01, 0x11}, {0x00, 0x01, 0x22}, std::string(64, 'b')};
  int64_t seal_id = s.insert_seal_object(seal);
  SealObject so_only;
  so_only.tokid = empty_id;
  so_only.so = seal.so;
  s.insert_seal_object(so_only);

  AttrMap attrs = {{ck::k_class, V::integer(ck::k_o_private_key)},
                   {ck::k_token, V::boolean(true)},
                   {ck::k_label, V::data(to_bytes("k1"))},
                   {ck::k_unwrap_template, V::list({})},
                   {ck::k_allowed_mechanisms, V::list({0x1041, 0x1042})}};
  int64_t oid1 = s.insert_object(tokid, attrs);
  AttrMap attrs2 = attrs;
  attrs2[ck::k_class] = V::integer(ck::k_o_public_key);
  int64_t oid2 = s.insert_object(tokid, attrs2);
  tx.commit();

  EXPECT_EQ(pid, 1);
  EXPECT_EQ(tokid, 1);
  EXPECT_EQ(oid1, 1);
  EXPECT_EQ(oid2, 2);

  Store r = open_ro();
  std::vector<Primary> prims = r.primaries();
  ASSERT_EQ(prims.size(), 2u);
  EXPECT_EQ(prims[0].id, pid);
  EXPECT_EQ(prims[0].hierarchy, "o");
  EXPECT_FALSE(prims[0].transient);
  EXPECT_EQ(prims[0].esys_tr, p.esys_tr);
  EXPECT_EQ(prims[0].objauth.view(), "mypobjpin");
  EXPECT_TRUE(prims[1].transient);
  EXPECT_EQ(prims[1].template_name, "tss2-engine-key");
  EXPECT_EQ(prims[1].objauth.view(), "");
  EXPECT_EQ(query("SELECT quote(objauth), typeof(objauth) FROM pobjects WHERE id=2"),
            std::vector<std::string>{"''|text"});
  EXPECT_TRUE(r.primary(pid).has_value());
  EXPECT_FALSE(r.primary(99).has_value());

  std::vector<Token> toks = r.tokens();
  ASSERT_EQ(toks.size(), 2u);
  EXPECT_EQ(toks[0].label, "tok");
  EXPECT_EQ(toks[0].pid, pid);
  EXPECT_TRUE(toks[0].config.token_init);
  EXPECT_EQ(toks[0].config.pss_sigs_good, true);
  EXPECT_TRUE(toks[0].config.empty_user_pin);
  EXPECT_FALSE(toks[1].label.has_value());
  EXPECT_FALSE(toks[1].config.token_init);
  EXPECT_EQ(query("SELECT label IS NULL FROM tokens WHERE id=2"), std::vector<std::string>{"1"});
  EXPECT_EQ(r.tokens(tpid).size(), 1u);
  EXPECT_EQ(r.tokens(77).size(), 0u);
  ASSERT_TRUE(r.token_by_label("tok"));
  EXPECT_EQ(r.token_by_label("tok")->id, tokid);
  EXPECT_FALSE(r.token_by_label("to"));

  auto so = r.seal_object(tokid);
  ASSERT_TRUE(so);
  EXPECT_EQ(so->id, seal_id);
  EXPECT_EQ(so->tokid, tokid);
  ASSERT_TRUE(so->user);
  EXPECT_EQ(so->user->pub, seal.user->pub);
  EXPECT_EQ(so->user->priv, seal.user->priv);
  EXPECT_EQ(so->user->salt, seal.user->salt);
  EXPECT_EQ(so->so.pub, seal.so.pub);
  EXPECT_EQ(so->so.priv, seal.so.priv);
  EXPECT_EQ(so->so.salt, seal.so.salt);
  EXPECT_EQ(query("SELECT typeof(userpub), typeof(sopriv), typeof(soauthsalt) FROM sealobjects "
                  "WHERE id=1"),
            std::vector<std::string>{"blob|blob|text"});
  auto so2 = r.seal_object(empty_id);
  ASSERT_TRUE(so2);
  EXPECT_FALSE(so2->user);
  EXPECT_EQ(query("SELECT userpub IS NULL, userpriv IS NULL, userauthsalt IS NULL FROM "
                  "sealobjects WHERE tokid=2"),
            std::vector<std::string>{"1|1|1"});
  EXPECT_FALSE(r.seal_object(55));

  std::vector<Object> objs = r.objects(tokid);
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(objs[0].id, oid1);
  EXPECT_EQ(objs[0].tokid, tokid);
  EXPECT_EQ(objs[0].attrs, attrs);
  EXPECT_EQ(objs[1].attrs, attrs2);
  ASSERT_TRUE(r.object(oid2));
  EXPECT_EQ(r.object(oid2)->attrs, attrs2);
  EXPECT_FALSE(r.object(3));
  EXPECT_TRUE(r.objects(empty_id).empty());
}

TEST_F(StoreTest, ReadsUpstreamBlobSaltsAndYaml)
{
  {
    Store s = open_rw();
  }
  // What upstream's Python tool writes: salts bound as BLOBs, canonical YAML.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_file().c_str(), &raw), SQLITE_OK);
    SqliteDb db(raw);
    std::string tok_yaml = "---\n!!map {\n  ? !!str \"pss-sigs-good\"\n  : !!bool \"false\",\n"
                           "  ? !!str \"token-init\"\n  : !!bool \"true\",\n}\n";
    std::string sql =
      "INSERT INTO pobjects VALUES (1, 'o', '---\n!!map {\n  ? !!str \"template-name\"\n"
      "  : !!str \"tpm2-tools-default\",\n  ? !!str \"transient\"\n  : !!bool \"true\",\n}\n', '');"
      "INSERT INTO tokens VALUES (1, 1, 'tok', '"
      + tok_yaml
      + "');"
        "INSERT INTO sealobjects VALUES (1, 1, X'0001aa', X'0001bb', X'3031', X'0001cc', X'0001dd',"
        " X'6566');"
        "INSERT INTO tobjects VALUES (1, 1, '---\n!!map {\n  ? !!int \"0\"\n  : !!int \"3\",\n"
        "  ? !!int \"1073743360\"\n  : !!str \"41100000000000004210000000000000\",\n}\n');";
    ASSERT_EQ(sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db.get());
  }
  Store r = open_ro();
  auto p = r.primary(1);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->transient);
  EXPECT_EQ(p->template_name, "tpm2-tools-default");
  auto t = r.token_by_label("tok");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->config.pss_sigs_good, false);
  auto so = r.seal_object(1);
  ASSERT_TRUE(so && so->user);
  EXPECT_EQ(so->user->salt, "01");
  EXPECT_EQ(so->so.salt, "ef");
  auto o = r.object(1);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->attrs.at(ck::k_allowed_mechanisms), V::list({0x1041, 0x1042}));
}

TEST_F(StoreTest, UnreadableRowNamesTableAndId)
{
  {
    Store s = open_rw();
    Transaction tx(s);
    s.exec("INSERT INTO pobjects VALUES (1, 'o', 'x: 1', '')");
    s.exec("INSERT INTO tokens VALUES (4, 1, 'bad', '--- !!map { ? !!str \"log-level\" : "
           "!!int \"2\" }')");
    s.exec("INSERT INTO tobjects VALUES (7, 4, '0: 3')");
    tx.commit();
  }
  Store r = open_ro();
  auto expect_error = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(k_db_name), std::string::npos) << e.what();
    }
  };
  expect_error([&] { r.primaries(); }, "pobjects row 1");
  expect_error([&] { r.tokens(); }, "tokens row 4");
  expect_error([&] { r.objects(4); }, "tobjects row 7");
}

TEST_F(StoreTest, TransactionRollsBackOnDestruction)
{
  Store s = open_rw();
  {
    Transaction tx(s);
    s.insert_primary(sample_primary());
    tx.commit();
  }
  std::string before = test::read_text(db_file());
  try {
    Transaction tx(s);
    int64_t pid = s.insert_primary(sample_primary());
    Token t;
    t.pid = pid;
    t.label = "gone";
    s.insert_token(t);
    EXPECT_EQ(s.primaries().size(), 2u); // visible inside the transaction
    throw std::runtime_error("failure after the writes");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(s.primaries().size(), 1u);
  EXPECT_TRUE(s.tokens().empty());
  EXPECT_EQ(query("SELECT count(*) FROM pobjects"), std::vector<std::string>{"1"});
  EXPECT_EQ(test::read_text(db_file()), before);
  EXPECT_FALSE(fs::exists(db_file().string() + "-journal"));

  // A failing statement inside a transaction (UNIQUE label) also leaves nothing behind.
  {
    Transaction tx(s);
    Token t;
    t.pid = 1;
    t.label = "dup";
    s.insert_token(t);
    tx.commit();
  }
  {
    Transaction tx(s);
    Token t;
    t.pid = 1;
    t.label = "other";
    s.insert_token(t);
    t.label = "dup";
    EXPECT_THROW(s.insert_token(t), Error);
  }
  EXPECT_EQ(query("SELECT label FROM tokens ORDER BY id"), std::vector<std::string>{"dup"});
}

TEST_F(StoreTest, NotAnSqliteFile)
{
  fs::create_directories(dir());
  {
    std::ofstream f(db_file());
    f << "this is not a database, just some text that is long enough to fill a header......\n";
  }
  std::string before = test::read_text(db_file());
  for (auto mode : {Store::Mode::k_read_only, Store::Mode::k_read_write}) {
    try {
      Store::open(dir(), mode);
      ADD_FAILURE() << "opened a text file as a store";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(db_file().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not an SQLite database"), std::string::npos)
        << e.what();
    }
  }
  EXPECT_EQ(test::read_text(db_file()), before);
}

TEST_F(StoreTest, SchemaVersions)
{
  auto set_version = [&](int v) {
    Store s = open_rw();
    s.exec(("UPDATE schema SET schema_version=" + std::to_string(v)).c_str());
  };
  set_version(9);
  EXPECT_EQ(open_rw().schema_version(), 9);
  EXPECT_EQ(open_ro().schema_version(), 9);

  set_version(99);
  for (auto mode : {Store::Mode::k_read_only, Store::Mode::k_read_write}) {
    try {
      Store::open(dir(), mode);
      ADD_FAILURE() << "schema 99 accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::k_general);
      EXPECT_NE(std::string(e.what()).find("99"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(db_file().string()), std::string::npos) << e.what();
    }
  }
  // Not silently rewritten.
  EXPECT_EQ(query("SELECT schema_version FROM schema"), std::vector<std::string>{"99"});
}

TEST_F(StoreTest, EmptySchemaTableAndForeignTables)
{
  {
    Store s = open_rw();
    s.exec("DELETE FROM schema");
  }
  EXPECT_THROW(open_ro(), Error);
  EXPECT_THROW(open_rw(), Error);

  // Some other application's database: never add our tables to it.
  test::TempDir other;
  fs::path db = other.path() / k_db_name;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    SqliteDb h(raw);
    ASSERT_EQ(sqlite3_exec(h.get(), "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  EXPECT_THROW(Store::open(other.path(), Store::Mode::k_read_write), Error);
}

TEST_F(StoreTest, ReadOnlyOpenOfMissingStore)
{
  try {
    open_ro();
    ADD_FAILURE() << "opened a missing store";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::k_not_found);
  }
  // ... and created nothing.
  EXPECT_FALSE(fs::exists(dir()));

  // An empty file (e.g. left by a crashed tool) is an empty store, not created read-only.
  fs::create_directories(dir());
  {
    std::ofstream f(db_file());
  }
  try {
    open_ro();
    ADD_FAILURE() << "opened an empty file read-only";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::k_not_found);
  }
  EXPECT_EQ(fs::file_size(db_file()), 0u);
}

TEST_F(StoreTest, ReadOnlyStoreRefusesWrites)
{
  {
    Store s = open_rw();
  }
  Store r = open_ro();
  EXPECT_THROW(
    {
      Transaction tx(r);
      r.insert_primary(sample_primary());
      tx.commit();
    },
    Error);
  EXPECT_EQ(query("SELECT count(*) FROM pobjects"), std::vector<std::string>{"0"});
}

TEST_F(StoreTest, SecondWriterWaitsForTheFirst)
{
  Store first = open_rw();
  Store second = open_rw();
  std::atomic<bool> first_committed{false};
  std::atomic<bool> started{false};
  std::thread holder([&] {
    Transaction tx(first);
    first.insert_primary(sample_primary());
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    first_committed = true;
    tx.commit();
  });
  while (!started) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto t0 = std::chrono::steady_clock::now();
  {
    Transaction tx(second); // BEGIN IMMEDIATE: blocks on the busy timeout, doesn't fail
    EXPECT_TRUE(first_committed.load());
    EXPECT_EQ(second.primaries().size(), 1u); // sees the first writer's row
    second.insert_primary(sample_primary());
    tx.commit();
  }
  auto waited = std::chrono::steady_clock::now() - t0;
  holder.join();
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_EQ(query("SELECT count(*) FROM pobjects"), std::vector<std::string>{"2"});
}

TEST_F(StoreTest, ForeignKeysCascade)
{
  Store s = open_rw();
  Transaction tx(s);
  int64_t pid = s.insert_primary(sample_primary());
  Token t;
  t.pid = pid;
  t.label = "tok";
  int64_t tokid = s.insert_token(t);
  s.insert_object(tokid, {{0, V::integer(3)}});
  s.exec("DELETE FROM pobjects");
  tx.commit();
  EXPECT_EQ(query("SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM tobjects)"),
            std::vector<std::string>{"0"});
}

// A crafted store cannot make one query run forever: the progress handler stops any
// statement after k_max_query_steps VM steps, with an Error naming the store.
TEST_F(StoreTest, EndlessQueryIsStopped)
{
  Store s = open_rw();
  try {
    s.exec("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
           "SELECT count(*) FROM r");
    FAIL() << "an endless query returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps and was stopped"), std::string::npos) << e.what();
  }
  // The connection stays usable, and an ordinary query is far below the bound.
  EXPECT_NO_THROW(s.exec("SELECT count(*) FROM tobjects"));
}

// A view in place of one of the five tables: the store is refused before any row is read.
TEST_F(StoreTest, ViewInPlaceOfATableIsRefused)
{
  open_rw();
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_file().c_str(), &raw), SQLITE_OK);
    SqliteDb db(raw);
    ASSERT_EQ(sqlite3_exec(db.get(),
                           "DROP TABLE tobjects; CREATE VIEW tobjects AS SELECT 1 AS id, 1 AS "
                           "tokid, 'x' AS attrs",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  try {
    open_ro();
    FAIL() << "a store with a view for tobjects opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'tobjects' is a view, not a table"), std::string::npos)
      << e.what();
  }
}

TEST(StoreLocate, NeverTheCurrentDirectory)
{
  auto saved = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto home = saved("HOME");
  auto env = saved("TPM2_PKCS11_STORE");
  unsetenv("TPM2_PKCS11_STORE");
  unsetenv("HOME");
  EXPECT_THROW(locate(std::nullopt), Error);
  setenv("HOME", "relative/home", 1);
  EXPECT_THROW(locate(std::nullopt), Error);
  setenv("HOME", "/h", 1);
  EXPECT_EQ(locate(std::nullopt), fs::path("/h/.tpm2_pkcs11"));
  home ? setenv("HOME", home->c_str(), 1) : unsetenv("HOME");
  if (env) {
    setenv("TPM2_PKCS11_STORE", env->c_str(), 1);
  }
}

TEST(StoreLocate, PathOptionAndEnvironment)
{
  EXPECT_EQ(locate(std::string("/some/where")), fs::path("/some/where"));
  const char* home = std::getenv("HOME");
  if (home && *home) {
    EXPECT_EQ(locate(std::string("~/x")), fs::path(home) / "x");
  }
  std::string saved = std::getenv("TPM2_PKCS11_STORE") ? std::getenv("TPM2_PKCS11_STORE") : "";
  setenv("TPM2_PKCS11_STORE", "/env/store", 1);
  EXPECT_EQ(locate(std::nullopt), fs::path("/env/store"));
  EXPECT_EQ(locate(std::string("/opt")), fs::path("/opt"));
  if (saved.empty()) {
    unsetenv("TPM2_PKCS11_STORE");
  } else {
    setenv("TPM2_PKCS11_STORE", saved.c_str(), 1);
  }
}

} // namespace
} // namespace ptool::store
