#include "core/gallery/sqlite_statement.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace qf::gallery {
namespace {

absl::Status SqliteError(sqlite3* db, int code, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<SqliteStatement> SqliteStatement::Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  const int code = sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
  if (code != SQLITE_OK) return SqliteError(db, code, absl::StrCat("preparing '", sql, "'"));
  return SqliteStatement(db, statement);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), statement_(other.statement_) {
  other.statement_ = nullptr;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(statement_); }

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, const void* data, size_t bytes) {
  sqlite3_bind_blob64(statement_, index, data, bytes, SQLITE_TRANSIENT);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  const int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return SqliteError(db_, code, absl::StrCat("running '", sqlite3_sql(statement_), "'"));
}

absl::Status SqliteStatement::Run() {
  while (true) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(statement_, column); }

std::string SqliteStatement::Text(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
}

std::vector<float> SqliteStatement::Floats(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  const size_t bytes = static_cast<size_t>(sqlite3_column_bytes(statement_, column));
  std::vector<float> values(bytes / sizeof(float));
  if (blob != nullptr && !values.empty()) std::memcpy(values.data(), blob, values.size() * 4);
  return values;
}

absl::Status SqliteExec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  if (code == SQLITE_OK) return absl::OkStatus();
  const std::string message = error != nullptr ? error : sqlite3_errstr(code);
  sqlite3_free(error);
  return absl::InternalError(absl::StrCat("'", sql, "': ", message));
}

}  // namespace qf::gallery
