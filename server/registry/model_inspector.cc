#include "server/registry/model_inspector.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/nn/state_dict_importer.h"
#include "core/quant/packed_model.h"
#include "core/quant/quant_bits.h"
#include "core/synth/torchscript_generator.h"
#include "server/registry/evaluation_summary.h"

namespace qf::server {
namespace {

namespace v1 = ::quantface::v1;

void DescribeSynthetic(const nlohmann::json& metadata, v1::SyntheticDataConfig* data) {
  if (metadata.contains(kSyntheticConfigKey) && metadata[kSyntheticConfigKey].is_string()) {
    if (google::protobuf::util::JsonStringToMessage(
            metadata[kSyntheticConfigKey].get<std::string>(), data)
            .ok()) {
      return;
    }
    data->Clear();
  }
  // Files made offline (`quantface quantize`) carry only the source's spec.
  const nlohmann::json spec =
      metadata.value("synthetic", nlohmann::json::object()).value("spec", nlohmann::json::object());
  const std::string kind = spec.value("kind", "");
  if (kind == "builtin-inversion") {
    const bool from_faces = spec.contains("start");
    data->set_source(from_faces ? v1::SyntheticDataConfig::SOURCE_INVERTED_FACES
                                : v1::SyntheticDataConfig::SOURCE_BUILTIN);
    data->set_num_images(spec.value("num_images", 0));
    data->set_seed(spec.value("seed", uint64_t{0}));
    if (from_faces) data->set_spread(spec.value("spread", 0.0));
  } else if (kind == "noise") {
    data->set_source(v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
  } else if (kind == "procedural-faces") {
    data->set_source(v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES);
    data->set_seed(spec.value("seed", uint64_t{0}));
  } else if (kind == "folder") {
    data->set_source(v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER);
    data->set_declared_synthetic(true);
  }
}

absl::Status InspectPacked(const std::string& path, v1::Model* model) {
  auto packed = quant::LoadPackedModel(path);
  if (!packed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid packed model file: ", packed.status().message()));
  }
  const nn::ModelSpec& spec = packed->model->spec();
  model->set_architecture(spec.architecture);
  model->set_embedding_dim(spec.embedding_dim);
  model->set_input_size(spec.input.size);
  auto bits = quant::ParseQuantBits(packed->header.value("bits", ""));
  if (bits.ok()) {
    model->set_weight_bits(bits->weight);
    model->set_activation_bits(bits->activation);
  }
  if (packed->file_bytes > 0) {
    model->set_compression_ratio(static_cast<double>(quant::Float32Bytes(*packed->model)) /
                                 static_cast<double>(packed->file_bytes));
  }
  const nlohmann::json metadata = packed->header.value("metadata", nlohmann::json::object());
  const std::string teacher = metadata.value("teacher", nlohmann::json::object()).value("name", "");
  if (!teacher.empty()) model->set_teacher_model(absl::StrCat("models/", teacher));
  DescribeSynthetic(metadata, model->mutable_synthetic_data());
  // The integer forward's evaluation first: it is what the server serves.
  if (metadata.contains("lfw_integer")) {
    auto summary = SummaryFromStudentReport(metadata["lfw_integer"], "lfw");
    if (summary.ok()) {
      summary->set_inference(absl::StrCat(kIntegerInferencePrefix,
                                          metadata["lfw_integer"].value("engine", "unknown")));
      *model->add_evaluations() = *std::move(summary);
    }
  }
  if (metadata.contains("lfw")) {
    auto summary = SummaryFromStudentReport(metadata["lfw"], "lfw");
    if (summary.ok()) {
      summary->set_inference(kFakeQuantInference);
      *model->add_evaluations() = *std::move(summary);
    }
  }
  if (metadata.contains("lfw_all_pairs")) {
    auto summary = SummaryFromAllPairsReport(metadata["lfw_all_pairs"]);
    if (summary.ok()) *model->add_evaluations() = *std::move(summary);
  }
  return absl::OkStatus();
}

absl::Status InspectStateDict(const std::string& architecture, const std::string& path,
                              v1::Model* model) {
  if (architecture.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata.architecture is required for MODEL_FORMAT_TORCH_STATE_DICT; one of ",
                     absl::StrJoin(nn::StateDictArchitectures(), ", ")));
  }
  auto backbone = nn::ImportStateDict(architecture, path);
  if (!backbone.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid state_dict: ", backbone.status().message()));
  }
  const nn::ModelSpec& spec = (*backbone)->spec();
  model->set_architecture(spec.architecture);
  model->set_embedding_dim(spec.embedding_dim);
  model->set_input_size(spec.input.size);
  model->set_weight_bits(32);
  model->set_activation_bits(32);
  return absl::OkStatus();
}

absl::Status InspectGenerator(const std::string& path, v1::Model* model) {
  auto generator = synth::TorchScriptGenerator::Load(path, model->generator().latent_dim());
  if (!generator.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid TorchScript generator: ", generator.status().message()));
  }
  const synth::TorchScriptGenerator::Info& info = (*generator)->info();
  model->set_architecture("generator");
  model->set_weight_bits(32);
  model->set_activation_bits(32);
  model->mutable_generator()->set_latent_dim(static_cast<int32_t>(info.latent_dim));
  model->mutable_generator()->set_image_height(static_cast<int32_t>(info.height));
  model->mutable_generator()->set_image_width(static_cast<int32_t>(info.width));
  return absl::OkStatus();
}

}  // namespace

absl::Status InspectModelFile(v1::ModelFormat format, const std::string& architecture,
                              const std::string& path, v1::Model* model) {
  switch (format) {
    case v1::MODEL_FORMAT_PACKED_QUANTIZED:
      return InspectPacked(path, model);
    case v1::MODEL_FORMAT_TORCH_STATE_DICT:
      return InspectStateDict(architecture, path, model);
    case v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR:
      return InspectGenerator(path, model);
    default:
      return absl::InvalidArgumentError(
          "metadata.format must be MODEL_FORMAT_PACKED_QUANTIZED, MODEL_FORMAT_TORCH_STATE_DICT or "
          "MODEL_FORMAT_TORCHSCRIPT_GENERATOR");
  }
}

}  // namespace qf::server
