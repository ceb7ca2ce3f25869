#include "server/model_hub.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/nn/model_zoo.h"

namespace qf::server {

ModelHub::ModelHub(std::string asset_dir, std::string evaluations_dir, std::string default_model,
                   std::shared_ptr<const detect::FaceDetector> detector)
    : asset_dir_(std::move(asset_dir)),
      evaluations_dir_(std::move(evaluations_dir)),
      default_model_(std::move(default_model)),
      detector_(std::move(detector)) {}

absl::StatusOr<std::string> ModelHub::Resolve(const std::string& name) const {
  if (name.empty()) return default_model_;
  if (!absl::StartsWith(name, "models/") || name.size() == 7) {
    return absl::InvalidArgumentError(
        absl::StrCat("model name '", name, "' is not of the form models/{model}"));
  }
  const std::string id = name.substr(7);
  const auto builtin = nn::BuiltinModelNames();
  if (std::find(builtin.begin(), builtin.end(), id) == builtin.end()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' not found; known models: models/",
                                            absl::StrJoin(builtin, ", models/")));
  }
  return id;
}

absl::StatusOr<std::shared_ptr<const match::FaceEmbedder>> ModelHub::Embedder(
    const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = embedders_.find(id); it != embedders_.end()) return it->second;
  const auto start = std::chrono::steady_clock::now();
  auto model = nn::LoadBuiltinModel(id, asset_dir_);
  if (!model.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model models/", id, " cannot be loaded: ", model.status().message()));
  }
  auto embedder = std::make_shared<const match::FaceEmbedder>(*std::move(model), detector_);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  spdlog::info("model models/{} loaded in {:.2f} s", id, elapsed.count());
  embedders_[id] = embedder;
  return embedder;
}

absl::StatusOr<match::OperatingPoints> ModelHub::OperatingPointsFor(const std::string& id) const {
  const std::string path = evaluations_dir_ + "/" + id + ".json";
  auto points = match::OperatingPoints::FromReportFile(path, "lfw");
  if (points.status().code() == absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model models/", id,
        " has no evaluation, so no threshold per false-accept rate; send an "
        "explicit threshold, or evaluate it: quantface bench lfw --data <lfw> --model ",
        id, " --report ", path));
  }
  return points;
}

}  // namespace qf::server
