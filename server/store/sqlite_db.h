// SqliteDb: one SQLite database file opened for this process's single writer,
// with WAL journaling (readers never block the writer), synchronous=FULL
// (a committed transaction survives power loss) and a busy timeout.
//
// Contract: all methods are thread-safe: the connection is serialized by an
// internal mutex (the store layers on top hold their own locks anyway, and
// every statement here is short). SQL errors come back as INTERNAL statuses
// naming the statement; constraint violations as ALREADY_EXISTS.
// Statement is a prepared statement bound and stepped by one caller while it
// holds the Lock() of its database.
#ifndef QUANTFACE_SERVER_STORE_SQLITE_DB_H_
#define QUANTFACE_SERVER_STORE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace qf::server {

class SqliteDb;

class Statement {
 public:
  Statement(Statement&&) noexcept;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, const std::string& text);
  Statement& BindBlob(int index, const std::string& bytes);
  Statement& BindNull(int index);

  // True when a row is available, false when done; errors as statuses.
  absl::StatusOr<bool> Step();
  // Steps until done (for INSERT/UPDATE/DELETE).
  absl::Status Run();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDb;
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  absl::Status bind_status_;
};

class SqliteDb {
 public:
  // Creates the file (and its directory) when missing.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results (schema, BEGIN, COMMIT).
  absl::Status Exec(const std::string& sql);
  absl::StatusOr<Statement> Prepare(const std::string& sql);

  // Callers hold this across a multi-statement transaction.
  std::unique_lock<std::recursive_mutex> Lock() {
    return std::unique_lock<std::recursive_mutex>(mutex_);
  }

  // Runs `body` between BEGIN IMMEDIATE and COMMIT, rolling back when it
  // returns an error.
  template <typename Body>
  absl::Status Transaction(Body&& body) {
    auto lock = Lock();
    if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::Status result = body();
    if (!result.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return result;
    }
    return Exec("COMMIT");
  }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::recursive_mutex mutex_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_STORE_SQLITE_DB_H_
