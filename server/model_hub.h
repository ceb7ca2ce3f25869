// ModelHub: the models this server can embed with, by resource name.
//
// Until the model registry lands (issue 5) these are the built-in models of
// core/nn/model_zoo.h, named "models/<id>". Embedders are built on first use
// and cached; all share one lazily loaded face detector. Operating points come
// from the evaluation report "<evaluations_dir>/<id>.json" when one exists.
//
// Resolve() maps "" to the default model, and answers INVALID_ARGUMENT for a
// name that is not "models/<id>" and NOT_FOUND for an unknown id. Thread-safe.
#ifndef QUANTFACE_SERVER_MODEL_HUB_H_
#define QUANTFACE_SERVER_MODEL_HUB_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/match/face_embedder.h"
#include "core/match/operating_points.h"

namespace qf::server {

class ModelHub {
 public:
  ModelHub(std::string asset_dir, std::string evaluations_dir, std::string default_model,
           std::shared_ptr<const detect::FaceDetector> detector);

  // The model id for a resource name ("" = the default).
  absl::StatusOr<std::string> Resolve(const std::string& name) const;

  absl::StatusOr<std::shared_ptr<const match::FaceEmbedder>> Embedder(const std::string& id);

  absl::StatusOr<match::OperatingPoints> OperatingPointsFor(const std::string& id) const;

  static std::string ResourceName(const std::string& id) { return "models/" + id; }

 private:
  const std::string asset_dir_;
  const std::string evaluations_dir_;
  const std::string default_model_;
  const std::shared_ptr<const detect::FaceDetector> detector_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const match::FaceEmbedder>> embedders_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_MODEL_HUB_H_
