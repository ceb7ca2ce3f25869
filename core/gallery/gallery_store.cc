#include "core/gallery/gallery_store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/gallery/sqlite_statement.h"
#include "core/util/status_macros.h"
#include "core/util/unit_vector.h"

namespace qf::gallery {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS galleries (
  gallery_id     TEXT PRIMARY KEY,
  display_name   TEXT NOT NULL,
  model          TEXT NOT NULL,
  dimension      INTEGER NOT NULL,
  create_time_ms INTEGER NOT NULL,
  flip_average   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS identities (
  identity_key   INTEGER PRIMARY KEY,
  gallery_id     TEXT NOT NULL REFERENCES galleries(gallery_id) ON DELETE CASCADE,
  identity_id    TEXT NOT NULL,
  display_name   TEXT NOT NULL,
  metadata_json  TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL,
  UNIQUE (gallery_id, identity_id)
);
CREATE TABLE IF NOT EXISTS templates (
  template_id    INTEGER PRIMARY KEY,
  identity_key   INTEGER NOT NULL REFERENCES identities(identity_key) ON DELETE CASCADE,
  gallery_id     TEXT NOT NULL,
  embedding      BLOB NOT NULL,
  model          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_by_identity ON templates(identity_key);
CREATE INDEX IF NOT EXISTS templates_by_gallery ON templates(gallery_id);
)sql";

absl::StatusOr<bool> HasColumn(sqlite3* db, const std::string& table, const std::string& column) {
  QF_ASSIGN_OR_RETURN(auto columns,
                      SqliteStatement::Prepare(db, absl::StrCat("PRAGMA table_info(", table, ")")));
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, columns.Step());
    if (!row) return false;
    if (columns.Text(1) == column) return true;
  }
}

// Databases from older versions lack later columns (the CREATE TABLE IF NOT
// EXISTS above keeps their old tables): add them. Templates get each
// gallery's current model, the only record those databases have of it;
// galleries get plain embeddings, the only kind there was.
absl::Status AddColumnsOfLaterVersions(sqlite3* db) {
  QF_ASSIGN_OR_RETURN(const bool has_template_model, HasColumn(db, "templates", "model"));
  if (!has_template_model) {
    QF_RETURN_IF_ERROR(SqliteExec(db,
                                  "BEGIN IMMEDIATE;"
                                  "ALTER TABLE templates ADD COLUMN model TEXT NOT NULL DEFAULT '';"
                                  "UPDATE templates SET model = (SELECT g.model FROM galleries g "
                                  "WHERE g.gallery_id = templates.gallery_id);"
                                  "COMMIT;"));
  }
  QF_ASSIGN_OR_RETURN(const bool has_flip, HasColumn(db, "galleries", "flip_average"));
  if (has_flip) return absl::OkStatus();
  return SqliteExec(db, "ALTER TABLE galleries ADD COLUMN flip_average INTEGER NOT NULL DEFAULT 0");
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MetadataJson(const Metadata& metadata) { return nlohmann::json(metadata).dump(); }

Metadata ParseMetadata(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return {};
  Metadata metadata;
  for (const auto& [key, value] : json.items()) {
    if (value.is_string()) metadata[key] = value.get<std::string>();
  }
  return metadata;
}

// Rolls back unless committed: every early error return leaves no trace.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (begun_ && !committed_) (void)SqliteExec(db_, "ROLLBACK");
  }
  absl::Status Begin() {
    QF_RETURN_IF_ERROR(SqliteExec(db_, "BEGIN IMMEDIATE"));
    begun_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    QF_RETURN_IF_ERROR(SqliteExec(db_, "COMMIT"));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool begun_ = false;
  bool committed_ = false;
};

absl::StatusOr<std::vector<float>> Normalized(const std::vector<float>& embedding, int dimension) {
  if (static_cast<int>(embedding.size()) != dimension) {
    return absl::InvalidArgumentError(absl::StrCat("embedding has ", embedding.size(),
                                                   " values; the gallery's model has ", dimension));
  }
  return UnitLength(embedding);
}

GalleryRecord GalleryFromRow(const SqliteStatement& row) {
  GalleryRecord gallery;
  gallery.gallery_id = row.Text(0);
  gallery.display_name = row.Text(1);
  gallery.model = row.Text(2);
  gallery.dimension = static_cast<int>(row.Int(3));
  gallery.create_time_ms = row.Int(4);
  gallery.identity_count = row.Int(5);
  gallery.template_count = row.Int(6);
  gallery.flip_average = row.Int(7) != 0;
  return gallery;
}

IdentityRecord IdentityFromRow(const SqliteStatement& row) {
  IdentityRecord identity;
  identity.identity_key = row.Int(0);
  identity.identity_id = row.Text(1);
  identity.display_name = row.Text(2);
  identity.metadata = ParseMetadata(row.Text(3));
  identity.create_time_ms = row.Int(4);
  identity.template_count = static_cast<int32_t>(row.Int(5));
  return identity;
}

constexpr char kGalleryColumns[] =
    "SELECT g.gallery_id, g.display_name, g.model, g.dimension, g.create_time_ms, "
    "(SELECT COUNT(*) FROM identities i WHERE i.gallery_id = g.gallery_id), "
    "(SELECT COUNT(*) FROM templates t WHERE t.gallery_id = g.gallery_id), g.flip_average "
    "FROM galleries g ";

constexpr char kIdentityColumns[] =
    "SELECT i.identity_key, i.identity_id, i.display_name, i.metadata_json, i.create_time_ms, "
    "(SELECT COUNT(*) FROM templates t WHERE t.identity_key = i.identity_key) FROM identities i ";

}  // namespace

absl::Status ValidateGalleryId(const std::string& gallery_id) {
  if (gallery_id.empty() || gallery_id.size() > 63) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gallery id '", gallery_id, "' must have 1 to 63 characters (letters, digits, '-', '_')"));
  }
  for (char c : gallery_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat("gallery id '", gallery_id, "' may only have letters, digits, '-', '_'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIdentityId(const std::string& identity_id) {
  if (identity_id.empty() || identity_id.size() > 128) {
    return absl::InvalidArgumentError("identity_id must have 1 to 128 characters");
  }
  for (char c : identity_id) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(absl::StrCat(
          "identity_id '", identity_id, "' may not contain '/' or control characters"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GalleryStore>> GalleryStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int code =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (code != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open gallery database ", path, ": ", message));
  }
  std::unique_ptr<GalleryStore> store(new GalleryStore(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL: readers of other processes (backup tools) never block the writer.
  // synchronous=FULL: a commit is on disk when COMMIT returns.
  QF_RETURN_IF_ERROR(SqliteExec(db, "PRAGMA journal_mode=WAL"));
  QF_RETURN_IF_ERROR(SqliteExec(db, "PRAGMA synchronous=FULL"));
  QF_RETURN_IF_ERROR(SqliteExec(db, "PRAGMA foreign_keys=ON"));
  QF_RETURN_IF_ERROR(SqliteExec(db, kSchema));
  QF_RETURN_IF_ERROR(AddColumnsOfLaterVersions(db));
  return store;
}

GalleryStore::~GalleryStore() { sqlite3_close(db_); }

absl::StatusOr<GalleryRecord> GalleryStore::CreateGallery(GalleryRecord gallery) {
  QF_RETURN_IF_ERROR(ValidateGalleryId(gallery.gallery_id));
  if (gallery.model.empty()) return absl::InvalidArgumentError("gallery.model is required");
  if (gallery.dimension <= 0) return absl::InvalidArgumentError("gallery dimension must be > 0");
  if (gallery.create_time_ms == 0) gallery.create_time_ms = NowMs();
  gallery.identity_count = 0;
  gallery.template_count = 0;
  std::lock_guard lock(mutex_);
  QF_ASSIGN_OR_RETURN(auto insert,
                      SqliteStatement::Prepare(db_,
                                               "INSERT INTO galleries(gallery_id, display_name, "
                                               "model, dimension, create_time_ms, "
                                               "flip_average) VALUES (?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, gallery.gallery_id)
      .Bind(2, gallery.display_name)
      .Bind(3, gallery.model)
      .Bind(4, static_cast<int64_t>(gallery.dimension))
      .Bind(5, gallery.create_time_ms)
      .Bind(6, int64_t{gallery.flip_average ? 1 : 0});
  const absl::Status status = insert.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("gallery galleries/", gallery.gallery_id, " already exists"));
  }
  QF_RETURN_IF_ERROR(status);
  return gallery;
}

absl::StatusOr<GalleryRecord> GalleryStore::GetGalleryLocked(const std::string& gallery_id) const {
  QF_ASSIGN_OR_RETURN(auto select, SqliteStatement::Prepare(
                                       db_, absl::StrCat(kGalleryColumns, "WHERE gallery_id = ?")));
  select.Bind(1, gallery_id);
  QF_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("gallery galleries/", gallery_id, " not found"));
  }
  return GalleryFromRow(select);
}

absl::StatusOr<GalleryRecord> GalleryStore::GetGallery(const std::string& gallery_id) const {
  std::lock_guard lock(mutex_);
  return GetGalleryLocked(gallery_id);
}

absl::StatusOr<std::vector<GalleryRecord>> GalleryStore::ListGalleries(const std::string& after,
                                                                       int limit) const {
  std::lock_guard lock(mutex_);
  QF_ASSIGN_OR_RETURN(auto select,
                      SqliteStatement::Prepare(db_, absl::StrCat(kGalleryColumns,
                                                                 "WHERE gallery_id > ? ORDER BY "
                                                                 "gallery_id LIMIT ?")));
  select.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<GalleryRecord> galleries;
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    galleries.push_back(GalleryFromRow(select));
  }
  return galleries;
}

absl::Status GalleryStore::DeleteGallery(const std::string& gallery_id) {
  std::lock_guard lock(mutex_);
  QF_ASSIGN_OR_RETURN(auto remove,
                      SqliteStatement::Prepare(db_, "DELETE FROM galleries WHERE gallery_id = ?"));
  remove.Bind(1, gallery_id);
  QF_RETURN_IF_ERROR(remove.Run());
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("gallery galleries/", gallery_id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<GalleryRecord> GalleryStore::SetGalleryModel(const std::string& gallery_id,
                                                            const std::string& model) {
  if (model.empty()) return absl::InvalidArgumentError("model is required");
  std::lock_guard lock(mutex_);
  QF_ASSIGN_OR_RETURN(auto update, SqliteStatement::Prepare(
                                       db_, "UPDATE galleries SET model = ? WHERE gallery_id = ?"));
  update.Bind(1, model).Bind(2, gallery_id);
  QF_RETURN_IF_ERROR(update.Run());
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("gallery galleries/", gallery_id, " not found"));
  }
  return GetGalleryLocked(gallery_id);
}

absl::StatusOr<std::vector<std::string>> GalleryStore::GalleriesUsingModel(
    const std::string& model) const {
  std::lock_guard lock(mutex_);
  QF_ASSIGN_OR_RETURN(
      auto select,
      SqliteStatement::Prepare(
          db_,
          "SELECT gallery_id FROM galleries WHERE model = ? UNION "
          "SELECT DISTINCT gallery_id FROM templates WHERE model = ? ORDER BY gallery_id"));
  select.Bind(1, model).Bind(2, model);
  std::vector<std::string> ids;
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    ids.push_back(select.Text(0));
  }
  return ids;
}

struct GalleryStore::EnrollStatements {
  SqliteStatement select_identity;
  SqliteStatement update_identity;
  SqliteStatement insert_identity;
  SqliteStatement insert_template;
};

absl::StatusOr<EnrollResult> GalleryStore::EnrollOneLocked(const GalleryRecord& gallery,
                                                           const EnrollItem& item, int64_t now_ms,
                                                           EnrollStatements& statements) {
  QF_RETURN_IF_ERROR(ValidateIdentityId(item.identity_id));
  if (!item.model.empty() && item.model != gallery.model) {
    return absl::AbortedError(
        absl::StrCat("gallery galleries/", gallery.gallery_id, " was switched to ", gallery.model,
                     " while the faces were embedded by ", item.model, "; enrol them again"));
  }
  EnrollResult result;
  result.model = gallery.model;
  for (const auto& embedding : item.embeddings) {
    QF_ASSIGN_OR_RETURN(auto normalized, Normalized(embedding, gallery.dimension));
    result.normalized.push_back(std::move(normalized));
  }
  IdentityRecord& identity = result.identity;
  SqliteStatement& select = statements.select_identity;
  select.Reset();
  select.Bind(1, gallery.gallery_id).Bind(2, item.identity_id);
  QF_ASSIGN_OR_RETURN(const bool exists, select.Step());
  if (exists) {
    identity = IdentityFromRow(select);
    for (const auto& [key, value] : item.metadata) identity.metadata[key] = value;
    if (!item.display_name.empty()) identity.display_name = item.display_name;
    SqliteStatement& update = statements.update_identity;
    update.Reset();
    update.Bind(1, identity.display_name)
        .Bind(2, MetadataJson(identity.metadata))
        .Bind(3, identity.identity_key);
    QF_RETURN_IF_ERROR(update.Run());
  } else {
    identity.identity_id = item.identity_id;
    identity.display_name = item.display_name;
    identity.metadata = item.metadata;
    identity.create_time_ms = now_ms;
    SqliteStatement& insert = statements.insert_identity;
    insert.Reset();
    insert.Bind(1, gallery.gallery_id)
        .Bind(2, identity.identity_id)
        .Bind(3, identity.display_name)
        .Bind(4, MetadataJson(identity.metadata))
        .Bind(5, now_ms);
    QF_RETURN_IF_ERROR(insert.Run());
    identity.identity_key = sqlite3_last_insert_rowid(db_);
  }
  select.Reset();
  SqliteStatement& insert_template = statements.insert_template;
  for (const auto& normalized : result.normalized) {
    insert_template.Reset();
    insert_template.Bind(1, identity.identity_key)
        .Bind(2, gallery.gallery_id)
        .BindBlob(3, normalized.data(), normalized.size() * sizeof(float))
        .Bind(4, gallery.model);
    QF_RETURN_IF_ERROR(insert_template.Run());
    result.template_ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  identity.template_count += static_cast<int32_t>(result.template_ids.size());
  return result;
}

absl::StatusOr<std::vector<EnrollResult>> GalleryStore::Enroll(
    const std::string& gallery_id, const std::vector<EnrollItem>& items) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  QF_RETURN_IF_ERROR(transaction.Begin());
  QF_ASSIGN_OR_RETURN(const GalleryRecord gallery, GetGalleryLocked(gallery_id));
  QF_ASSIGN_OR_RETURN(
      auto select,
      SqliteStatement::Prepare(
          db_, absl::StrCat(kIdentityColumns, "WHERE i.gallery_id = ? AND i.identity_id = ?")));
  QF_ASSIGN_OR_RETURN(
      auto update, SqliteStatement::Prepare(db_,
                                            "UPDATE identities SET display_name = ?, metadata_json "
                                            "= ? WHERE identity_key = ?"));
  QF_ASSIGN_OR_RETURN(
      auto insert,
      SqliteStatement::Prepare(db_,
                               "INSERT INTO identities(gallery_id, identity_id, display_name, "
                               "metadata_json, create_time_ms) VALUES (?, ?, ?, ?, ?)"));
  QF_ASSIGN_OR_RETURN(auto insert_template,
                      SqliteStatement::Prepare(db_,
                                               "INSERT INTO templates(identity_key, gallery_id, "
                                               "embedding, model) VALUES (?, ?, ?, ?)"));
  EnrollStatements statements{std::move(select), std::move(update), std::move(insert),
                              std::move(insert_template)};
  const int64_t now_ms = NowMs();
  std::vector<EnrollResult> results;
  results.reserve(items.size());
  for (const EnrollItem& item : items) {
    QF_ASSIGN_OR_RETURN(auto result, EnrollOneLocked(gallery, item, now_ms, statements));
    results.push_back(std::move(result));
  }
  QF_RETURN_IF_ERROR(transaction.Commit());
  return results;
}

absl::StatusOr<std::vector<int64_t>> GalleryStore::RemoveIdentity(const std::string& gallery_id,
                                                                  const std::string& identity_id) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  QF_RETURN_IF_ERROR(transaction.Begin());
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  QF_ASSIGN_OR_RETURN(const IdentityRecord identity, GetIdentityLocked(gallery_id, identity_id));
  QF_ASSIGN_OR_RETURN(auto select,
                      SqliteStatement::Prepare(db_,
                                               "SELECT template_id FROM templates WHERE "
                                               "identity_key = ? ORDER BY template_id"));
  select.Bind(1, identity.identity_key);
  std::vector<int64_t> template_ids;
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    template_ids.push_back(select.Int(0));
  }
  QF_ASSIGN_OR_RETURN(
      auto remove, SqliteStatement::Prepare(db_, "DELETE FROM identities WHERE identity_key = ?"));
  remove.Bind(1, identity.identity_key);
  QF_RETURN_IF_ERROR(remove.Run());
  QF_RETURN_IF_ERROR(transaction.Commit());
  return template_ids;
}

absl::StatusOr<IdentityRecord> GalleryStore::GetIdentityLocked(
    const std::string& gallery_id, const std::string& identity_id) const {
  QF_ASSIGN_OR_RETURN(
      auto select,
      SqliteStatement::Prepare(
          db_, absl::StrCat(kIdentityColumns, "WHERE i.gallery_id = ? AND i.identity_id = ?")));
  select.Bind(1, gallery_id).Bind(2, identity_id);
  QF_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("identity galleries/", gallery_id, "/identities/", identity_id, " not found"));
  }
  return IdentityFromRow(select);
}

absl::StatusOr<IdentityRecord> GalleryStore::GetIdentity(const std::string& gallery_id,
                                                         const std::string& identity_id) const {
  std::lock_guard lock(mutex_);
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  return GetIdentityLocked(gallery_id, identity_id);
}

absl::StatusOr<std::vector<IdentityRecord>> GalleryStore::ListIdentities(
    const std::string& gallery_id, const std::string& after, int limit) const {
  std::lock_guard lock(mutex_);
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  QF_ASSIGN_OR_RETURN(
      auto select,
      SqliteStatement::Prepare(db_, absl::StrCat(kIdentityColumns,
                                                 "WHERE i.gallery_id = ? AND i.identity_id > ? "
                                                 "ORDER BY i.identity_id LIMIT ?")));
  select.Bind(1, gallery_id).Bind(2, after).Bind(3, static_cast<int64_t>(limit));
  std::vector<IdentityRecord> identities;
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    identities.push_back(IdentityFromRow(select));
  }
  return identities;
}

absl::StatusOr<std::vector<TemplateRecord>> GalleryStore::IdentityTemplates(
    const std::string& gallery_id, const std::string& identity_id) const {
  std::lock_guard lock(mutex_);
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  QF_ASSIGN_OR_RETURN(const IdentityRecord identity, GetIdentityLocked(gallery_id, identity_id));
  QF_ASSIGN_OR_RETURN(
      auto select, SqliteStatement::Prepare(db_,
                                            "SELECT template_id, embedding, model FROM templates "
                                            "WHERE identity_key = ? ORDER BY template_id"));
  select.Bind(1, identity.identity_key);
  std::vector<TemplateRecord> templates;
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    templates.push_back({select.Int(0), identity.identity_key, select.Floats(1), select.Text(2)});
  }
  return templates;
}

absl::Status GalleryStore::ForEachIdentity(const std::string& gallery_id,
                                           const std::function<void(IdentityRecord)>& visit) const {
  std::lock_guard lock(mutex_);
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  QF_ASSIGN_OR_RETURN(auto select,
                      SqliteStatement::Prepare(db_,
                                               "SELECT identity_key, identity_id, display_name, "
                                               "metadata_json, create_time_ms, 0 FROM identities "
                                               "WHERE gallery_id = ? ORDER BY identity_key"));
  select.Bind(1, gallery_id);
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) return absl::OkStatus();
    visit(IdentityFromRow(select));
  }
}

absl::Status GalleryStore::ForEachTemplate(const std::string& gallery_id,
                                           const std::function<void(TemplateRecord)>& visit) const {
  std::lock_guard lock(mutex_);
  QF_RETURN_IF_ERROR(GetGalleryLocked(gallery_id).status());
  QF_ASSIGN_OR_RETURN(auto select,
                      SqliteStatement::Prepare(db_,
                                               "SELECT template_id, identity_key, embedding, model "
                                               "FROM templates WHERE gallery_id = ? ORDER BY "
                                               "template_id"));
  select.Bind(1, gallery_id);
  while (true) {
    QF_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) return absl::OkStatus();
    visit({select.Int(0), select.Int(1), select.Floats(2), select.Text(3)});
  }
}

}  // namespace qf::gallery
