// ModelRegistry: the models the service knows: metadata (one v1::Model per
// model) in SQLite, model files in a content-addressed BlobStore.
//
// Contract:
//  - Built-in models are registered at start-up (RegisterBuiltin) and have no
//    file in the store (their weights stay in the asset cache); they cannot be
//    deleted or downloaded.
//  - AddModel() takes a file already written to a BlobWriter, asks the
//    ModelInspector to validate it and describe it (architecture, bits,
//    teacher, evaluation, ...), checks the client's size and sha256 when
//    given, and only then commits the blob and inserts the row, in that order
//    and in one transaction for the row: a rejected file leaves nothing
//    behind, and a crash between the two leaves at most an unreferenced blob.
//  - Delete() is FAILED_PRECONDITION for built-ins, the default model, and a
//    model any in-use check reports users for (galleries, jobs).
//  - A model may carry artifacts (NewModel::artifacts: e.g. the ROC plot of
//    its evaluation and the log of the job that made it), stored as blobs
//    like the model file, listed in Model.artifacts, fetched with
//    ArtifactPath(), and deleted with the model (unless another row shares
//    the same bytes).
//  - Generator uploads (MODEL_FORMAT_TORCHSCRIPT_GENERATOR) must be declared
//    synthetic (INVALID_ARGUMENT naming metadata.declared_synthetic before
//    anything is loaded); they get architecture "generator".
//  - Ids are [a-z0-9][a-z0-9._-]{0,63}; names are "models/<id>".
//  - Thread-safe.
// No LibTorch here: validation is the inspector's job (model_inspector.h).
#ifndef QUANTFACE_SERVER_REGISTRY_MODEL_REGISTRY_H_
#define QUANTFACE_SERVER_REGISTRY_MODEL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantface/v1/registry.pb.h"
#include "server/store/blob_store.h"
#include "server/store/sqlite_db.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

// Validates the file at `path` as `format` (with `architecture` for state
// dicts) and fills what the file says about itself into `model`:
// architecture, embedding_dim, input_size, bits, teacher_model,
// synthetic_data, evaluations, compression_ratio, generator. For generators
// `model->generator().latent_dim()` holds the uploader's latent size on entry
// (0: unknown). INVALID_ARGUMENT when the file is not a valid model of that
// format.
using ModelInspector =
    std::function<absl::Status(v1::ModelFormat format, const std::string& architecture,
                               const std::string& path, v1::Model* model)>;

// Resource names of whatever uses model `name` (e.g. "galleries/g1").
using ModelInUseCheck = std::function<std::vector<std::string>(const std::string& name)>;

struct ModelListFilter {
  std::string architecture;
  int weight_bits = 0;
  std::string teacher_model;
};

struct ModelPage {
  std::vector<v1::Model> models;
  std::string next_page_token;
};

// What AddModel needs besides the file.
struct NewModel {
  std::string id;
  std::string display_name;
  v1::ModelFormat format = v1::MODEL_FORMAT_UNSPECIFIED;
  std::string architecture;  // Required for state dicts.
  std::string source_job;
  int64_t expected_size = 0;    // 0: not checked.
  std::string expected_sha256;  // Empty: not checked.
  // MODEL_FORMAT_TORCHSCRIPT_GENERATOR only.
  int latent_dim = 0;  // 0: the module's `latent_dim` attribute.
  bool declared_synthetic = false;
  // Files stored with the model.
  struct Artifact {
    std::string name;        // [a-z0-9_-]+, unique within the model.
    std::string media_type;  // e.g. "image/png".
    std::string content;
  };
  std::vector<Artifact> artifacts;
};

class ModelRegistry {
 public:
  // Opens (or creates) <dir>/registry.db and <dir>/blobs.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Open(const std::string& dir,
                                                             ModelInspector inspector);

  // Inserts or refreshes a built-in model's row (`model` carries its name,
  // architecture, sizes and any evaluation).
  absl::Status RegisterBuiltin(const v1::Model& model);

  // Sets the default model the first time (when none is stored yet).
  absl::Status InitDefault(const std::string& name);

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewUpload() { return blobs_->NewWriter(); }
  absl::StatusOr<v1::Model> AddModel(const NewModel& request, BlobWriter& file);

  absl::StatusOr<v1::Model> Get(const std::string& name) const;
  absl::StatusOr<ModelPage> List(const ModelListFilter& filter, int page_size,
                                 const std::string& page_token) const;
  absl::Status Delete(const std::string& name);
  absl::StatusOr<v1::Model> SetDefault(const std::string& name);
  std::string DefaultName() const;

  // Path of a stored model's file; FAILED_PRECONDITION for built-ins.
  absl::StatusOr<std::string> FilePath(const std::string& name) const;
  // Path of one of a model's artifacts, with its description; NOT_FOUND
  // naming the artifacts the model has.
  absl::StatusOr<std::string> ArtifactPath(const std::string& name, const std::string& artifact,
                                           v1::ModelArtifact* description) const;

  void AddInUseCheck(ModelInUseCheck check);
  // Called with the model's name after it was deleted (e.g. to drop caches).
  void AddDeleteListener(std::function<void(const std::string&)> listener);
  // Called after every model added or deleted (e.g. to update gauges).
  void AddChangeListener(std::function<void()> listener);

  struct Totals {
    int64_t models = 0;
    int64_t stored_bytes = 0;  // Files in the blob store.
  };
  Totals totals() const;

  static absl::Status CheckId(const std::string& id);
  // "models/<id>" -> id; INVALID_ARGUMENT naming `field` otherwise.
  static absl::StatusOr<std::string> IdOf(const std::string& name, const std::string& field);

 private:
  ModelRegistry(std::unique_ptr<SqliteDb> db, std::unique_ptr<BlobStore> blobs,
                ModelInspector inspector)
      : db_(std::move(db)), blobs_(std::move(blobs)), inspector_(std::move(inspector)) {}
  absl::StatusOr<v1::Model> GetLocked(const std::string& id) const;
  // Persists `name` as the default model and remembers it; mutex_ held.
  absl::Status StoreDefaultLocked(const std::string& name);
  void Decorate(v1::Model& model) const;

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<BlobStore> blobs_;
  const ModelInspector inspector_;
  mutable std::mutex mutex_;
  std::string default_name_;
  std::vector<ModelInUseCheck> in_use_checks_;
  std::vector<std::function<void(const std::string&)>> delete_listeners_;
  std::vector<std::function<void()>> change_listeners_;
  void NotifyChanged();
  // Removes blob `digest` unless a model row still names it; mutex_ held.
  void RemoveBlobIfUnusedLocked(const std::string& digest);
  absl::Status Insert(const std::string& id, const std::string& digest, const v1::Model& model);
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_REGISTRY_MODEL_REGISTRY_H_
