// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/c_handles.hpp"
#include "core/error.hpp"
#include "core/model.hpp"

namespace ptool::store {

inline constexpr int k_schema_version = 8;
inline constexpr const char* k_db_name = "tpm2_pkcs11.sqlite3";

// The store directory: `path_option` (--path, ~ expanded), else $TPM2_PKCS11_STORE, else
// /etc/tpm2_pkcs11 when it exists and is writable, else $HOME/.tpm2_pkcs11 (HOME absolute).
// Never the current directory: throws Error (not found) when none of these applies.
std::filesystem::path locate(const std::optional<std::string>& path_option);

// What a row that cannot be parsed throws: a ptool::Error that also says which row, so a
// command can skip it and tell the user how to remove it. `label` is the token's label for
// a tokens row (when readable), else empty.
class BadRowError : public Error
{
public:
  BadRowError(const std::string& message, std::string table, int64_t id, std::string label)
      : Error(ExitCode::k_general, message,
              "the row was written by something else or damaged; other rows still work"),
        m_table(std::move(table)), m_id(id), m_label(std::move(label))
  {}
  const std::string& table() const { return m_table; }
  int64_t id() const { return m_id; }
  const std::string& label() const { return m_label; }

private:
  std::string m_table;
  int64_t m_id;
  std::string m_label;
};
// What Store::open throws for a store at schema 1..7 (upgrade_store brings it to 8).
class OldSchemaError : public Error
{
public:
  OldSchemaError(const std::string& message, int version)
      : Error(Reason::k_store, message, "upgrade it with 'tpm2_ptool dbup' (a backup is kept)"),
        m_version(version)
  {}
  int version() const { return m_version; }

private:
  int m_version;
};

// Throws a "permission denied" Error naming the store's owner and what to do when this user
// cannot reach the store's database in `dir` (the directory is not searchable, or the file
// is not readable, or not writable when `write`). Returns quietly when it is reachable or
// simply absent.
void check_access(const std::filesystem::path& dir, bool write);

// Settings for a connection to a store file, which is untrusted input (the PKCS#11 module
// reads it inside ssh, ssh-agent, browsers): SQLITE_DBCONFIG_DEFENSIVE, trusted_schema off
// (no functions with side effects from views or triggers), values at most
// k_max_value_bytes, and a progress handler that interrupts any one statement after
// k_max_query_steps virtual-machine steps (count-based, so a crafted recursive view cannot
// run or fill the disk forever). Throws Error when the library refuses a setting.
inline constexpr int k_max_query_steps = 25'000'000;
inline constexpr int k_max_value_bytes = 64 << 20;
void harden_connection(sqlite3* db, const std::filesystem::path& file);

// An open tpm2-pkcs11 store (schema 8, upstream's exact format). Reads never change the
// file; every write goes through a Transaction. Errors are ptool::Error naming the file.
class Store
{
public:
  enum class Mode {
    k_read_only,  // the store must exist; opened SQLITE_OPEN_READONLY
    k_read_write, // creates the directory (0700), file (0600) and schema when missing
    k_existing,   // read-write, but the store must already exist: a failure writes nothing
  };
  static Store open(const std::filesystem::path& dir, Mode mode);

  const std::filesystem::path& path() const { return m_path; }
  int schema_version() const { return m_version; }
  sqlite3* db() const { return m_db.get(); }

  // Reads. A row that cannot be parsed throws Error naming the table and row id.
  std::vector<Primary> primaries() const;
  std::optional<Primary> primary(int64_t id) const;
  std::vector<Token> tokens(std::optional<int64_t> pid = std::nullopt) const;
  std::optional<Token> token_by_label(std::string_view label) const;
  std::optional<SealObject> seal_object(int64_t tokid) const;
  std::vector<Object> objects(int64_t tokid) const;
  std::optional<Object> object(int64_t id) const;
  // Like tokens() / objects(), but a row that cannot be parsed is handed to `bad` (the Error
  // names it) and skipped, so one damaged row does not hide the others (PKCS#11 module).
  using BadRow = std::function<void(const Error&)>;
  std::vector<Token> tokens_skipping(const BadRow& bad,
                                     std::optional<int64_t> pid = std::nullopt) const;
  std::vector<Object> objects_skipping(int64_t tokid, const BadRow& bad) const;
  // Every tobjects row of token `tokid` as stored, in id order, unparsed: the PKCS#11
  // module indexes them and parses a row's attributes only when they are needed.
  void object_rows(int64_t tokid, const std::function<void(int64_t, std::string_view)>& row) const;

  // Writes; call inside a Transaction. Return the new row id.
  int64_t insert_primary(const Primary& primary);
  int64_t insert_token(const Token& token);
  int64_t insert_seal_object(const SealObject& seal);
  int64_t insert_object(int64_t tokid, const AttrMap& attrs);

  // Updates and deletes; call inside a Transaction. Deletes return false when no row
  // matched. Children go with their parent (explicitly, so stores whose foreign keys
  // predate ON DELETE CASCADE are cleaned too): primary -> tokens -> seal objects, objects.
  void update_object_attrs(int64_t id, const AttrMap& attrs);
  void update_token_config(int64_t id, const TokenConfig& config);
  bool delete_object(int64_t id);
  bool delete_token(int64_t id);
  bool delete_primary(int64_t id);
  // Replace one seal object (blobs + salt) of token `tokid` (by tokid, not sealobjects.id:
  // upstream's tool gets this wrong). Throw not-found when the token has no seal row.
  void update_seal_user(int64_t tokid, const SealBlobs& user);
  void update_seal_so(int64_t tokid, const SealBlobs& so);

  // Runs one statement without results (schema, deletes); throws Error on failure.
  void exec(const char* sql);

private:
  Store(std::filesystem::path path, SqliteDb db) : m_path(std::move(path)), m_db(std::move(db)) {}
  void check_schema(Mode mode);
  void check_tables() const;

  std::filesystem::path m_path;
  SqliteDb m_db;
  int m_version = 0;
};

// BEGIN IMMEDIATE … COMMIT. The destructor rolls back unless commit() succeeded, so an
// exception anywhere leaves the store exactly as it was. Waits for other writers (busy
// timeout) rather than failing.
class Transaction
{
public:
  explicit Transaction(Store& store);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

private:
  Store& m_store;
  bool m_done = false;
};

// Looks a token up by label; throws not-found ('No token labeled "L"', hint listtokens).
Token find_token(const Store& st, std::string_view label);
// Looks a primary up by id; throws not-found ('No primary object id: N', hint listprimaries).
Primary find_primary(const Store& st, int64_t pid);

// A token with its primary and seal rows: what every command (and later the PKCS#11
// module's C_InitPIN / C_SetPIN) that opens a token's wrapping key reads first.
struct TokenRows
{
  Token token;
  Primary primary;
  SealObject seal;
  // The seal object `so` opens: the SO's, else the user's (check seal.user first).
  const SealBlobs& seal_for(bool so) const { return so ? seal.so : *seal.user; }
};
struct TokenLookup
{
  // Refuse (usage, "token "L" is not initialized") before the primary and seals are read.
  bool require_init = false;
  // The hint on the "token "L" has no seal objects in the store" error (empty: none).
  std::string no_seal_hint;
};
// Token `label`, its primary, its seal row, in that order; the errors find_token and
// find_primary give, then k_general when the token has no seal row.
TokenRows load_token(const Store& st, std::string_view label, const TokenLookup& how = {});
// The same for a token already read (export reaches it through one of its objects).
TokenRows load_token(const Store& st, Token token, const TokenLookup& how = {});

} // namespace ptool::store
