// ModelHub: the models this server can embed with, by resource name.
//
// Without a registry these are the built-in models of core/nn/model_zoo.h,
// named "models/<id>". With AttachRegistry() every registry model can be used:
// built-ins, uploaded state_dicts of a supported architecture, and packed
// low-bit students, served by the integer engine (Int8Backbone) when
// `int8_engine` is set and the architecture has one, else by the fake-quant
// simulation the packed file restores. Embedders are built on first use and
// cached (Forget() drops one, e.g. after deletion); all share one lazily
// loaded face detector. Operating points come from the evaluation report
// "<evaluations_dir>/<id>.json" when one exists (View 2's or every pair's,
// match/operating_points.h), else, for registry models other than the
// built-ins, from the evaluation stored with them in the registry.
//
// Serve() gives the embedder together with what runs its forward passes: with
// SetBatching() max_wait > 0, a MicroBatcher per model that joins the faces of
// concurrent requests into one forward (off: each request runs its own); and
// the histogram of faces per forward pass, labelled by model.
//
// Resolve() maps "" to the default model (the registry's, once attached), and
// answers INVALID_ARGUMENT for a name that is not "models/<id>" and NOT_FOUND
// for an unknown id. Thread-safe.
#ifndef QUANTFACE_SERVER_MODEL_HUB_H_
#define QUANTFACE_SERVER_MODEL_HUB_H_

#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/match/face_embedder.h"
#include "core/match/operating_points.h"
#include "server/micro_batcher.h"
#include "server/registry/model_registry.h"

namespace qf::server {

// One model ready to embed with.
struct ServedModel {
  std::shared_ptr<const match::FaceEmbedder> embedder;
  std::shared_ptr<MicroBatcher> batcher;         // Null: micro-batching is off.
  prometheus::Histogram* batch_sizes = nullptr;  // Faces per forward; may be null.
};

class ModelHub {
 public:
  ModelHub(std::string asset_dir, std::string evaluations_dir, std::string default_model,
           std::shared_ptr<const detect::FaceDetector> detector);

  // The model id for a resource name ("" = the default).
  absl::StatusOr<std::string> Resolve(const std::string& name) const;

  absl::StatusOr<std::shared_ptr<const match::FaceEmbedder>> Embedder(const std::string& id);

  // The registry entry of `id` (FAILED_PRECONDITION without a registry).
  absl::StatusOr<v1::Model> Describe(const std::string& id) const;

  // The embedder of `id` with its batcher (see above).
  absl::StatusOr<ServedModel> Serve(const std::string& id);

  // Micro-batching (on when options.max_wait > 0) and the family of the
  // faces-per-forward histogram (may be null). Call before serving.
  void SetBatching(MicroBatchOptions options,
                   prometheus::Family<prometheus::Histogram>* batch_sizes);

  // The thresholds per FAR of `id`, from an operator's report
  // (<data_dir>/evaluations/<id>.json, or evaluations/flip/<id>.json for
  // mirror-averaged embeddings) or, for a registry student, its job's
  // evaluation of the same kind.
  absl::StatusOr<match::OperatingPoints> OperatingPointsFor(const std::string& id,
                                                            bool flip_average = false) const;

  // Of two models (resource names, "models/<id>"), the one distilled from
  // the other: its registry entry, when that names the other as its teacher;
  // nullopt when neither does, or without a registry. Distillation trained a
  // student to reproduce its teacher's embeddings, so scores across such a
  // pair mean something; across any other pair of models they do not.
  std::optional<v1::Model> StudentOfPair(const std::string& model_a,
                                         const std::string& model_b) const;

  // The thresholds per FAR for scores between a probe embedded by `probe_id`
  // and a template embedded by `template_id`, when one of the two is a
  // registry student distilled from the other: the student's evaluation of
  // pairs scored across it and its teacher (from the same sources as
  // OperatingPointsFor: the operator's report's "cross_teacher_student"
  // section, else the registry evaluation serving the student's
  // thresholds). A cross score has the same distribution whichever side
  // the teacher embedded, so one set serves both ways. FAILED_PRECONDITION
  // when neither was distilled from the other or nothing measured it. With
  // `flip_average`, from evaluations of mirror-averaged embeddings only
  // (evaluations/flip/<student>.json or a registry evaluation marked so).
  absl::StatusOr<match::OperatingPoints> CrossOperatingPointsFor(const std::string& probe_id,
                                                                 const std::string& template_id,
                                                                 bool flip_average = false) const;

  static std::string ResourceName(const std::string& id) { return "models/" + id; }

  // From now on models come from `registry` (which outlives the hub).
  void AttachRegistry(ModelRegistry* registry, bool int8_engine);
  // Drops the cached embedder of `id`.
  void Forget(const std::string& id);

 private:
  const std::string asset_dir_;
  const std::string evaluations_dir_;
  const std::string default_model_;
  const std::shared_ptr<const detect::FaceDetector> detector_;
  absl::StatusOr<std::shared_ptr<nn::Backbone>> LoadRegistryModel(const v1::Model& model);

  ModelRegistry* registry_ = nullptr;
  bool int8_engine_ = true;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const match::FaceEmbedder>> embedders_;
  MicroBatchOptions batching_;
  prometheus::Family<prometheus::Histogram>* batch_size_family_ = nullptr;
  std::map<std::string, ServedModel> served_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_MODEL_HUB_H_
