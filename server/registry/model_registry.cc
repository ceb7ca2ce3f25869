#include "server/registry/model_registry.h"

#include <google/protobuf/util/time_util.h>

#include <filesystem>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"
#include "server/store/page_request.h"

namespace qf::server {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS models(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  builtin INTEGER NOT NULL,
  architecture TEXT NOT NULL,
  weight_bits INTEGER NOT NULL,
  teacher TEXT NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  proto BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts(
  model_id TEXT NOT NULL,
  name TEXT NOT NULL,
  blob TEXT NOT NULL,
  PRIMARY KEY(model_id, name));
)sql";

absl::Status CheckArtifactName(const std::string& name) {
  static const std::regex pattern("[a-z0-9_-]{1,32}");
  if (!std::regex_match(name, pattern)) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact name '", name, "' is invalid: use 1-32 of [a-z0-9_-]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Model> ParseModel(const std::string& bytes) {
  v1::Model model;
  if (!model.ParseFromString(bytes)) return absl::DataLossError("corrupt model row in registry.db");
  return model;
}

}  // namespace

absl::Status ModelRegistry::CheckId(const std::string& id) {
  static const std::regex pattern("[a-z0-9][a-z0-9._-]{0,63}");
  if (!std::regex_match(id, pattern)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model id '", id,
                     "' is invalid: use 1-64 of [a-z0-9._-], starting with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ModelRegistry::IdOf(const std::string& name, const std::string& field) {
  if (name.rfind("models/", 0) != 0 || name.size() == 7) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", name, "' is not of the form models/{model}"));
  }
  return name.substr(7);
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Open(const std::string& dir,
                                                                   ModelInspector inspector) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto db = SqliteDb::Open((std::filesystem::path(dir) / "registry.db").string());
  if (!db.ok()) return db.status();
  if (absl::Status s = (*db)->Exec(kSchema); !s.ok()) return s;
  auto blobs = BlobStore::Open((std::filesystem::path(dir) / "blobs").string());
  if (!blobs.ok()) return blobs.status();
  std::unique_ptr<ModelRegistry> registry(  // Private constructor.
      new ModelRegistry(*std::move(db), *std::move(blobs), std::move(inspector)));
  auto stmt = registry->db_->Prepare("SELECT value FROM settings WHERE key='default_model'");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (*row) registry->default_name_ = stmt->ColumnText(0);
  return registry;
}

absl::Status ModelRegistry::RegisterBuiltin(const v1::Model& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto id = IdOf(model.name(), "model.name");
  if (!id.ok()) return id.status();
  v1::Model stored = model;
  stored.set_format(v1::MODEL_FORMAT_BUILTIN);
  stored.clear_is_default();
  auto existing = GetLocked(*id);
  if (existing.ok()) {
    *stored.mutable_create_time() = existing->create_time();
  } else {
    *stored.mutable_create_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  }
  auto stmt = db_->Prepare(
      "INSERT INTO models(id, builtin, architecture, weight_bits, teacher, blob, size, proto) "
      "VALUES(?1, 1, ?2, ?3, '', '', ?4, ?5) ON CONFLICT(id) DO UPDATE SET "
      "builtin=1, architecture=?2, weight_bits=?3, size=?4, proto=?5");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, *id)
      .Bind(2, stored.architecture())
      .Bind(3, int64_t{stored.weight_bits()})
      .Bind(4, stored.size_bytes())
      .BindBlob(5, stored.SerializeAsString());
  return stmt->Run();
}

absl::Status ModelRegistry::InitDefault(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!default_name_.empty() && GetLocked(default_name_.substr(7)).ok()) return absl::OkStatus();
  auto id = IdOf(name, "default_model");
  if (!id.ok()) return id.status();
  if (auto model = GetLocked(*id); !model.ok()) return model.status();
  if (absl::Status s = StoreDefaultLocked(name); !s.ok()) return s;
  return absl::OkStatus();
}

absl::StatusOr<v1::Model> ModelRegistry::AddModel(const NewModel& request, BlobWriter& file) {
  if (absl::Status s = CheckId(request.id); !s.ok()) return s;
  if (request.expected_size > 0 && request.expected_size != file.size()) {
    return absl::InvalidArgumentError(absl::StrCat("metadata.size_bytes is ", request.expected_size,
                                                   " but ", file.size(), " bytes arrived"));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (GetLocked(request.id).ok()) {
      return absl::AlreadyExistsError(absl::StrCat("model models/", request.id, " already exists"));
    }
  }
  if (request.format == v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR && !request.declared_synthetic) {
    return absl::InvalidArgumentError(
        "metadata.declared_synthetic must be true for a generator: training data must be "
        "synthetic faces of no real person, and the uploader has to declare that the generator "
        "makes only such faces");
  }
  for (size_t i = 0; i < request.artifacts.size(); ++i) {
    if (absl::Status s = CheckArtifactName(request.artifacts[i].name); !s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      if (request.artifacts[j].name == request.artifacts[i].name) {
        return absl::InvalidArgumentError(
            absl::StrCat("artifact '", request.artifacts[i].name, "' given twice"));
      }
    }
  }
  if (absl::Status s = file.Flush(); !s.ok()) return s;
  v1::Model model;
  if (request.format == v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR) {
    model.mutable_generator()->set_latent_dim(request.latent_dim);
  }
  // The inspector loads the whole file: slow, so outside the lock.
  if (absl::Status s = inspector_(request.format, request.architecture, file.temp_path(), &model);
      !s.ok()) {
    return s;
  }
  auto digest = file.Commit();
  if (!digest.ok()) return digest.status();
  if (!request.expected_sha256.empty() && request.expected_sha256 != *digest) {
    // Committed already (the digest is known only now); drop it unless shared.
    std::lock_guard<std::mutex> lock(mutex_);
    RemoveBlobIfUnusedLocked(*digest);
    return absl::InvalidArgumentError(absl::StrCat("metadata.sha256 is ", request.expected_sha256,
                                                   " but the file's sha256 is ", *digest));
  }
  model.set_name(absl::StrCat("models/", request.id));
  model.set_display_name(request.display_name.empty() ? request.id : request.display_name);
  model.set_format(request.format);
  model.set_size_bytes(file.size());
  model.set_sha256(*digest);
  model.set_source_job(request.source_job);
  if (request.format == v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR) {
    model.set_architecture("generator");
    model.mutable_generator()->set_declared_synthetic(true);
  }
  *model.mutable_create_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  // Artifacts go to the blob store first; their rows go in with the model's.
  std::vector<std::string> artifact_blobs;
  for (const NewModel::Artifact& artifact : request.artifacts) {
    auto writer = blobs_->NewWriter();
    if (!writer.ok()) return writer.status();
    if (absl::Status s = (*writer)->Append(artifact.content); !s.ok()) return s;
    auto artifact_digest = (*writer)->Commit();
    if (!artifact_digest.ok()) return artifact_digest.status();
    v1::ModelArtifact* entry = model.add_artifacts();
    entry->set_name(artifact.name);
    entry->set_media_type(artifact.media_type);
    entry->set_sha256(*artifact_digest);
    entry->set_size_bytes(static_cast<int64_t>(artifact.content.size()));
    artifact_blobs.push_back(*artifact_digest);
  }

  if (absl::Status s = Insert(request.id, *digest, model); !s.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& blob : artifact_blobs) RemoveBlobIfUnusedLocked(blob);
    return s;
  }
  NotifyChanged();
  std::lock_guard<std::mutex> lock(mutex_);
  Decorate(model);
  return model;
}

absl::Status ModelRegistry::Insert(const std::string& id, const std::string& digest,
                                   const v1::Model& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::Status status = db_->Transaction([&]() -> absl::Status {
    auto stmt = db_->Prepare(
        "INSERT INTO models(id, builtin, architecture, weight_bits, teacher, blob, size, proto) "
        "VALUES(?1, 0, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, id)
        .Bind(2, model.architecture())
        .Bind(3, int64_t{model.weight_bits()})
        .Bind(4, model.teacher_model())
        .Bind(5, digest)
        .Bind(6, model.size_bytes())
        .BindBlob(7, model.SerializeAsString());
    if (absl::Status s = stmt->Run(); !s.ok()) return s;
    for (const v1::ModelArtifact& artifact : model.artifacts()) {
      auto row = db_->Prepare("INSERT INTO artifacts(model_id, name, blob) VALUES(?1, ?2, ?3)");
      if (!row.ok()) return row.status();
      row->Bind(1, id).Bind(2, artifact.name()).Bind(3, artifact.sha256());
      if (absl::Status s = row->Run(); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (status.ok()) return status;
  // Not stored: drop the file unless another model has the same bytes.
  RemoveBlobIfUnusedLocked(digest);
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(absl::StrCat("model models/", id, " already exists"));
  }
  return status;
}

void ModelRegistry::RemoveBlobIfUnusedLocked(const std::string& digest) {
  auto used = db_->Prepare(
      "SELECT (SELECT COUNT(*) FROM models WHERE blob=?1) + "
      "(SELECT COUNT(*) FROM artifacts WHERE blob=?1)");
  if (!used.ok()) return;
  used->Bind(1, digest);
  if (auto row = used->Step(); row.ok() && *row && used->ColumnInt(0) == 0) {
    blobs_->Remove(digest).IgnoreError();
  }
}

absl::StatusOr<v1::Model> ModelRegistry::GetLocked(const std::string& id) const {
  auto stmt = db_->Prepare("SELECT proto FROM models WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("model models/", id, " not found"));
  auto model = ParseModel(stmt->ColumnBlob(0));
  if (model.ok()) Decorate(*model);
  return model;
}

void ModelRegistry::Decorate(v1::Model& model) const {
  model.set_is_default(model.name() == default_name_);
}

absl::StatusOr<v1::Model> ModelRegistry::Get(const std::string& name) const {
  auto id = IdOf(name, "name");
  if (!id.ok()) return id.status();
  std::lock_guard<std::mutex> lock(mutex_);
  return GetLocked(*id);
}

absl::StatusOr<ModelPage> ModelRegistry::List(const ModelListFilter& filter, int page_size,
                                              const std::string& page_token) const {
  QF_ASSIGN_OR_RETURN(const int limit, PageLimit(page_size));
  QF_ASSIGN_OR_RETURN(const int64_t offset, PageOffset(page_token));
  std::lock_guard<std::mutex> lock(mutex_);
  auto stmt = db_->Prepare(
      "SELECT proto FROM models WHERE (?1 = '' OR architecture = ?1) AND "
      "(?2 = 0 OR weight_bits = ?2) AND (?3 = '' OR teacher = ?3) "
      "ORDER BY builtin DESC, seq LIMIT ?4 OFFSET ?5");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, filter.architecture)
      .Bind(2, int64_t{filter.weight_bits})
      .Bind(3, filter.teacher_model)
      .Bind(4, int64_t{limit} + 1)
      .Bind(5, offset);
  ModelPage page;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(page.models.size()) == limit) {
      page.next_page_token = std::to_string(offset + limit);
      break;
    }
    auto model = ParseModel(stmt->ColumnBlob(0));
    if (!model.ok()) return model.status();
    Decorate(*model);
    page.models.push_back(*std::move(model));
  }
  return page;
}

absl::Status ModelRegistry::Delete(const std::string& name) {
  auto id = IdOf(name, "name");
  if (!id.ok()) return id.status();
  std::vector<ModelInUseCheck> checks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto model = GetLocked(*id);
    if (!model.ok()) return model.status();
    if (model->format() == v1::MODEL_FORMAT_BUILTIN) {
      return absl::FailedPreconditionError(
          absl::StrCat("model ", name, " is built in and cannot be deleted"));
    }
    if (name == default_name_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model ", name, " is the default model; make another model the default first"));
    }
    checks = in_use_checks_;
  }
  std::vector<std::string> users;
  for (const auto& check : checks) {
    for (std::string& user : check(name)) users.push_back(std::move(user));
  }
  if (!users.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", name, " is in use by ", absl::StrJoin(users, ", ")));
  }
  std::string blob;
  std::vector<std::string> artifact_blobs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    absl::Status status = db_->Transaction([&]() -> absl::Status {
      auto select = db_->Prepare("SELECT blob FROM models WHERE id=?1");
      if (!select.ok()) return select.status();
      select->Bind(1, *id);
      auto row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::NotFoundError(absl::StrCat("model ", name, " not found"));
      blob = select->ColumnText(0);
      auto artifacts = db_->Prepare("SELECT blob FROM artifacts WHERE model_id=?1");
      if (!artifacts.ok()) return artifacts.status();
      artifacts->Bind(1, *id);
      while (true) {
        auto artifact = artifacts->Step();
        if (!artifact.ok()) return artifact.status();
        if (!*artifact) break;
        artifact_blobs.push_back(artifacts->ColumnText(0));
      }
      auto remove_artifacts = db_->Prepare("DELETE FROM artifacts WHERE model_id=?1");
      if (!remove_artifacts.ok()) return remove_artifacts.status();
      remove_artifacts->Bind(1, *id);
      if (absl::Status s = remove_artifacts->Run(); !s.ok()) return s;
      auto remove = db_->Prepare("DELETE FROM models WHERE id=?1");
      if (!remove.ok()) return remove.status();
      remove->Bind(1, *id);
      if (absl::Status s = remove->Run(); !s.ok()) return s;
      auto shared = db_->Prepare("SELECT COUNT(*) FROM models WHERE blob=?1");
      if (!shared.ok()) return shared.status();
      shared->Bind(1, blob);
      if (auto count = shared->Step(); count.ok() && *count && shared->ColumnInt(0) > 0) {
        blob.clear();  // Another model has identical bytes: keep the file.
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  // The row is gone first, so a crash here leaves an orphan file, never a
  // row without its file.
  if (!blob.empty()) blobs_->Remove(blob).IgnoreError();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& artifact_blob : artifact_blobs) RemoveBlobIfUnusedLocked(artifact_blob);
  }
  std::vector<std::function<void(const std::string&)>> listeners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    listeners = delete_listeners_;
  }
  for (const auto& listener : listeners) listener(name);
  NotifyChanged();
  return absl::OkStatus();
}

void ModelRegistry::AddChangeListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  change_listeners_.push_back(std::move(listener));
}

void ModelRegistry::NotifyChanged() {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    listeners = change_listeners_;
  }
  for (const auto& listener : listeners) listener();
}

absl::StatusOr<v1::Model> ModelRegistry::SetDefault(const std::string& name) {
  auto id = IdOf(name, "name");
  if (!id.ok()) return id.status();
  std::lock_guard<std::mutex> lock(mutex_);
  auto model = GetLocked(*id);
  if (!model.ok()) return model.status();
  if (absl::Status s = StoreDefaultLocked(name); !s.ok()) return s;
  model->set_is_default(true);
  return model;
}

std::string ModelRegistry::DefaultName() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return default_name_;
}

absl::StatusOr<std::string> ModelRegistry::FilePath(const std::string& name) const {
  auto model = Get(name);
  if (!model.ok()) return model.status();
  if (model->format() == v1::MODEL_FORMAT_BUILTIN) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", name,
                     " is built in: its weights are the pinned npm package files that "
                     "scripts/fetch_assets.sh installs, not a registry file"));
  }
  return blobs_->PathOf(model->sha256());
}

absl::StatusOr<std::string> ModelRegistry::ArtifactPath(const std::string& name,
                                                        const std::string& artifact,
                                                        v1::ModelArtifact* description) const {
  auto model = Get(name);
  if (!model.ok()) return model.status();
  std::vector<std::string> names;
  for (const v1::ModelArtifact& entry : model->artifacts()) {
    if (entry.name() == artifact) {
      if (description != nullptr) *description = entry;
      return blobs_->PathOf(entry.sha256());
    }
    names.push_back(entry.name());
  }
  return absl::NotFoundError(absl::StrCat("model ", name, " has no artifact '", artifact,
                                          "'; it has [", absl::StrJoin(names, ", "), "]"));
}

absl::Status ModelRegistry::StoreDefaultLocked(const std::string& name) {
  auto stmt = db_->Prepare(
      "INSERT INTO settings(key, value) VALUES('default_model', ?1) "
      "ON CONFLICT(key) DO UPDATE SET value=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, name);
  if (absl::Status s = stmt->Run(); !s.ok()) return s;
  default_name_ = name;
  return absl::OkStatus();
}

void ModelRegistry::AddInUseCheck(ModelInUseCheck check) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_use_checks_.push_back(std::move(check));
}

void ModelRegistry::AddDeleteListener(std::function<void(const std::string&)> listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  delete_listeners_.push_back(std::move(listener));
}

ModelRegistry::Totals ModelRegistry::totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Totals totals;
  auto stmt = db_->Prepare(
      "SELECT COUNT(*), (SELECT COALESCE(SUM(size), 0) FROM "
      "(SELECT DISTINCT blob, size FROM models WHERE builtin=0)) FROM models");
  if (!stmt.ok()) return totals;
  if (auto row = stmt->Step(); row.ok() && *row) {
    totals.models = stmt->ColumnInt(0);
    totals.stored_bytes = stmt->ColumnInt(1);
  }
  return totals;
}

}  // namespace qf::server
