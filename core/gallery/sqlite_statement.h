// SqliteStatement: one prepared SQLite statement (RAII), with bind/step/column
// helpers that report errors as absl::Status naming the SQL.
#ifndef QUANTFACE_CORE_GALLERY_SQLITE_STATEMENT_H_
#define QUANTFACE_CORE_GALLERY_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qf::gallery {

class SqliteStatement {
 public:
  static absl::StatusOr<SqliteStatement> Prepare(sqlite3* db, const std::string& sql);
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are numbered from 1, as in SQLite.
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, const std::string& value);
  SqliteStatement& BindBlob(int index, const void* data, size_t bytes);

  // True while a row is available, false when done; an error otherwise.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Run();
  // Ready to bind and run again.
  void Reset();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::vector<float> Floats(int column) const;

 private:
  SqliteStatement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

// Runs SQL without results (several statements allowed).
absl::Status SqliteExec(sqlite3* db, const std::string& sql);

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_SQLITE_STATEMENT_H_
