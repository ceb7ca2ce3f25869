#include "server/model_hub.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/nn/model_zoo.h"
#include "core/nn/state_dict_importer.h"
#include "core/quant/served_student.h"
#include "server/registry/evaluation_summary.h"

namespace qf::server {
namespace {

std::vector<match::OperatingPoint> PointsFrom(
    const google::protobuf::RepeatedPtrField<v1::OperatingPoint>& stored) {
  std::vector<match::OperatingPoint> points;
  for (const v1::OperatingPoint& p : stored) {
    match::OperatingPoint point;
    point.far_target = p.false_accept_rate();
    point.far = p.false_accept_rate();  // The registry keeps the target only.
    point.tar = p.true_accept_rate();
    point.threshold = p.threshold();
    points.push_back(point);
  }
  return points;
}

}  // namespace

ModelHub::ModelHub(std::string asset_dir, std::string evaluations_dir, std::string default_model,
                   std::shared_ptr<const detect::FaceDetector> detector)
    : asset_dir_(std::move(asset_dir)),
      evaluations_dir_(std::move(evaluations_dir)),
      default_model_(std::move(default_model)),
      detector_(std::move(detector)) {}

void ModelHub::AttachRegistry(ModelRegistry* registry, bool int8_engine) {
  std::lock_guard<std::mutex> lock(mutex_);
  registry_ = registry;
  int8_engine_ = int8_engine;
}

void ModelHub::Forget(const std::string& id) {
  ServedModel dropped;  // Its batcher, if last, shuts down after the unlock.
  std::lock_guard<std::mutex> lock(mutex_);
  embedders_.erase(id);
  if (auto it = served_.find(id); it != served_.end()) {
    dropped = std::move(it->second);
    served_.erase(it);
  }
}

absl::StatusOr<v1::Model> ModelHub::Describe(const std::string& id) const {
  if (registry_ == nullptr)
    return absl::FailedPreconditionError("this server has no model registry");
  return registry_->Get(ResourceName(id));
}

void ModelHub::SetBatching(MicroBatchOptions options,
                           prometheus::Family<prometheus::Histogram>* batch_sizes) {
  std::lock_guard<std::mutex> lock(mutex_);
  batching_ = options;
  batch_size_family_ = batch_sizes;
}

absl::StatusOr<ServedModel> ModelHub::Serve(const std::string& id) {
  auto embedder = Embedder(id);
  if (!embedder.ok()) return embedder.status();
  std::lock_guard<std::mutex> lock(mutex_);
  ServedModel& served = served_[id];
  if (served.embedder == *embedder) return served;
  // First use, or the model was reloaded after Forget().
  served.embedder = *embedder;
  if (batch_size_family_ != nullptr) {
    served.batch_sizes = &batch_size_family_->Add(
        {{"model", ResourceName(id)}},
        prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  }
  served.batcher = nullptr;
  if (batching_.max_wait.count() > 0) {
    served.batcher = std::make_shared<MicroBatcher>(
        [embedder = *embedder](
            const std::vector<cv::Mat>& crops) -> absl::StatusOr<std::vector<MicroBatcher::Row>> {
          // Raw rows: a mirror-averaged request sums a crop's row with its
          // mirror's before normalizing (face_batch.cc).
          auto embeddings = embedder->ForwardCrops(crops);
          if (!embeddings.ok()) return embeddings.status();
          const torch::Tensor rows = embeddings->contiguous();
          std::vector<MicroBatcher::Row> out(static_cast<size_t>(rows.size(0)));
          const float* data = rows.data_ptr<float>();
          for (size_t i = 0; i < out.size(); ++i) {
            out[i].assign(data + i * rows.size(1), data + (i + 1) * rows.size(1));
          }
          return out;
        },
        batching_,
        [histogram = served.batch_sizes](int faces) {
          if (histogram != nullptr) histogram->Observe(faces);
        });
  }
  return served;
}

absl::StatusOr<std::string> ModelHub::Resolve(const std::string& name) const {
  if (registry_ != nullptr) {
    const std::string resolved = name.empty() ? registry_->DefaultName() : name;
    auto id = ModelRegistry::IdOf(resolved, "model");
    if (!id.ok()) return id.status();
    if (auto model = registry_->Get(resolved); !model.ok()) {
      if (model.status().code() != absl::StatusCode::kNotFound) return model.status();
      const auto builtin = nn::BuiltinModelNames();
      return absl::NotFoundError(
          absl::StrCat("model '", resolved, "' not found; built-in models: models/",
                       absl::StrJoin(builtin, ", models/"), "; `quantface model list` shows all"));
    }
    return *id;
  }
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
  absl::StatusOr<std::shared_ptr<nn::Backbone>> model;
  if (registry_ != nullptr) {
    auto entry = registry_->Get(ResourceName(id));
    if (!entry.ok()) return entry.status();
    model = entry->format() == v1::MODEL_FORMAT_BUILTIN ? nn::LoadBuiltinModel(id, asset_dir_)
                                                        : LoadRegistryModel(*entry);
  } else {
    model = nn::LoadBuiltinModel(id, asset_dir_);
  }
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

absl::StatusOr<std::shared_ptr<nn::Backbone>> ModelHub::LoadRegistryModel(const v1::Model& model) {
  auto path = registry_->FilePath(model.name());
  if (!path.ok()) return path.status();
  if (model.format() == v1::MODEL_FORMAT_TORCH_STATE_DICT) {
    return nn::ImportStateDict(model.architecture(), *path);
  }
  if (model.format() != v1::MODEL_FORMAT_PACKED_QUANTIZED) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model.name(), " is not a face-embedding model"));
  }
  auto student = quant::LoadServedStudent(*path, int8_engine_);
  if (!student.ok()) return student.status();
  if (!student->fallback_reason.empty()) {
    spdlog::info("model {} has no integer engine ({}); serving the fake-quant simulation",
                 model.name(), student->fallback_reason);
  } else {
    spdlog::info("model {} served by its {} forward", model.name(), student->forward);
  }
  return student->backbone;
}

absl::StatusOr<match::OperatingPoints> ModelHub::OperatingPointsFor(const std::string& id,
                                                                    bool flip_average) const {
  const std::string path = evaluations_dir_ + (flip_average ? "/flip/" : "/") + id + ".json";
  const std::string flip_option = flip_average ? " --flip" : "";
  if (registry_ != nullptr) {
    auto model = registry_->Get(ResourceName(id));
    if (!model.ok()) return model.status();
    if (model->format() != v1::MODEL_FORMAT_BUILTIN) {
      // An operator's report for this model comes first: it is how a student
      // gets thresholds from another protocol than its job's, e.g. every pair
      // of LFW (`quantface bench lfw --protocol all-pairs --model-file F.qfp
      // --report <path>`).
      std::error_code ignored;
      if (std::filesystem::exists(path, ignored)) {
        return match::OperatingPoints::FromReportFile(path, "lfw", flip_average);
      }
      // Else thresholds from the job's evaluation of the forward that serves
      // the model (the integer one when the engine is on and the job measured
      // it), every pair's when the job scored them.
      const v1::EvaluationSummary* chosen = ThresholdEvaluation(*model, int8_engine_, flip_average);
      if (chosen != nullptr) {
        return match::OperatingPoints(chosen->protocol(), PointsFrom(chosen->operating_points()));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "model models/", id, " has no evaluation",
          flip_average ? " of mirror-averaged embeddings" : "",
          ", so no threshold per false-accept rate; send an explicit threshold, ",
          // Jobs evaluate plain embeddings only.
          flip_average ? "" : "quantize with evaluation_protocol lfw or lfw-all-pairs, ",
          "or evaluate its file: "
          "quantface bench lfw --data <lfw> --protocol all-pairs --model-file <file.qfp>",
          flip_option, " --report ", path));
    }
  }
  auto points = match::OperatingPoints::FromReportFile(path, "lfw", flip_average);
  if (points.status().code() == absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model models/", id, " has no evaluation",
        flip_average ? " of mirror-averaged embeddings" : "",
        ", so no threshold per false-accept rate; send an "
        "explicit threshold, or evaluate it: quantface bench lfw --data <lfw> --model ",
        id, flip_option, " --report ", path));
  }
  return points;
}

std::optional<v1::Model> ModelHub::StudentOfPair(const std::string& model_a,
                                                 const std::string& model_b) const {
  if (registry_ == nullptr) return std::nullopt;
  for (const auto& [student, teacher] : {std::pair{&model_a, &model_b}, {&model_b, &model_a}}) {
    auto entry = registry_->Get(*student);
    if (entry.ok() && entry->teacher_model() == *teacher) return *std::move(entry);
  }
  return std::nullopt;
}

absl::StatusOr<match::OperatingPoints> ModelHub::CrossOperatingPointsFor(
    const std::string& probe_id, const std::string& template_id, bool flip_average) const {
  const std::optional<v1::Model> student =
      StudentOfPair(ResourceName(probe_id), ResourceName(template_id));
  if (!student) {
    return absl::FailedPreconditionError(absl::StrCat(
        "templates of models/", template_id, " cannot be compared with probes of models/", probe_id,
        ": neither was distilled from the other"));
  }
  const bool probe_is_student = student->name() == ResourceName(probe_id);
  const std::string& student_id = probe_is_student ? probe_id : template_id;
  const std::string& teacher_id = probe_is_student ? template_id : probe_id;
  const std::string path =
      evaluations_dir_ + (flip_average ? "/flip/" : "/") + student_id + ".json";
  const std::string command = absl::StrCat(
      "quantface bench lfw --data <lfw> --protocol all-pairs --model-file <file.qfp> --teacher ",
      teacher_id, flip_average ? " --flip" : "", " --report ", path);
  std::error_code ignored;
  if (std::filesystem::exists(path, ignored)) {
    // The operator's report serves the student's own thresholds, so it must
    // serve these too: one evaluation for both kinds of score in a gallery.
    auto points =
        match::OperatingPoints::FromReportFile(path, "lfw", flip_average, "cross_teacher_student");
    if (points.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(absl::StrCat(
          points.status().message(), ": no pairs scored across models/", student_id,
          " and its teacher, so no threshold for teacher templates against student probes: ",
          command));
    }
    return points;
  }
  const v1::EvaluationSummary* chosen = ThresholdEvaluation(*student, int8_engine_, flip_average);
  if (chosen == nullptr || chosen->cross_model_operating_points().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "models/", student_id, " has no evaluation of ",
        flip_average ? "mirror-averaged embeddings of " : "",
        "pairs scored across it and its teacher, so no threshold for "
        "teacher templates against student probes; send an explicit threshold, or evaluate: ",
        command));
  }
  return match::OperatingPoints(chosen->protocol(),
                                PointsFrom(chosen->cross_model_operating_points()));
}

}  // namespace qf::server
