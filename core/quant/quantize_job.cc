#include "core/quant/quantize_job.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/eval/embedding_spread.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/verification_report.h"
#include "core/nn/model_zoo.h"
#include "core/quant/int8_model.h"
#include "core/quant/integer_lfw_eval.h"
#include "core/quant/lfw_student_eval.h"
#include "core/quant/qat_checkpoint.h"
#include "core/quant/residual_stream_equalizer.h"
#include "core/quant/student_init.h"
#include "core/synth/folder_source.h"
#include "core/synth/generator_source.h"
#include "core/synth/mixed_source.h"
#include "core/synth/noise_source.h"
#include "core/synth/procedural_face_source.h"
#include "core/synth/synthetic_cache.h"
#include "core/synth/tensor_set_source.h"
#include "core/util/sha256.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The training/calibration sources a job accepts. Parsed once, before any
// work, so that the checks that depend on the kind (augmentation) and the
// construction of the source share one list: the switch that builds a source
// handles every kind (-Wswitch says when one is added and not built).
enum class SourceKind {
  kNoise,
  kProcedural,
  kProceduralAndNoise,
  kBuiltin,
  kInvertedFaces,
  kFolder,
  kGenerator,
};

absl::StatusOr<SourceKind> ParseSourceKind(const std::string& name) {
  static constexpr std::pair<std::string_view, SourceKind> kKinds[] = {
      {"noise", SourceKind::kNoise},
      {"procedural", SourceKind::kProcedural},
      {"procedural+noise", SourceKind::kProceduralAndNoise},
      {"builtin", SourceKind::kBuiltin},
      {"inverted-faces", SourceKind::kInvertedFaces},
      {"folder", SourceKind::kFolder},
      {"generator", SourceKind::kGenerator},
  };
  for (const auto& [kind_name, kind] : kKinds) {
    if (name == kind_name) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown source '", name,
                   "': use noise, procedural, procedural+noise, builtin, inverted-faces, folder or "
                   "generator"));
}

// A materialized set of images (as opposed to a source that makes new images
// every batch): the only kind random views (SetAugmentation) apply to.
bool IsImageSet(SourceKind kind) {
  return kind == SourceKind::kBuiltin || kind == SourceKind::kInvertedFaces ||
         kind == SourceKind::kFolder;
}

nlohmann::json LayersToJson(const FakeQuantHooks& hooks) {
  nlohmann::json layers = nlohmann::json::array();
  for (const FakeQuantHooks::Layer* layer : hooks.layers()) {
    nlohmann::json entry = {{"name", layer->name},
                            {"weight_bits", layer->weight_bits},
                            {"weight_scheme", WeightSchemeName(layer->weight_scheme)},
                            {"input_bits", layer->input->bits()}};
    if (layer->input->initialized()) {
      entry["input_range"] = {layer->input->lo().item<double>(), layer->input->hi().item<double>()};
    }
    layers.push_back(std::move(entry));
  }
  nlohmann::json adds = nlohmann::json::object();
  for (const auto& [site, quantizer] : hooks.add_operands()) {
    if (quantizer->initialized()) {
      adds[site] = {quantizer->lo().item<double>(), quantizer->hi().item<double>()};
    }
  }
  return {{"layers", layers}, {"add_operands", adds}};
}

// The cache is a torch::save'd N x D tensor plus a JSON list of the N paths.
void LoadEmbeddingCache(const std::string& path,
                        std::unordered_map<std::string, torch::Tensor>& rows) {
  std::ifstream in(path + ".json");
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json paths = nlohmann::json::parse(text.str(), nullptr, false);
  if (paths.is_discarded() || !paths.is_array()) return;
  try {
    torch::Tensor all;
    torch::load(all, path);
    if (all.dim() != 2 || all.size(0) != static_cast<int64_t>(paths.size())) return;
    for (size_t i = 0; i < paths.size(); ++i) rows[paths[i].get<std::string>()] = all[i];
  } catch (const c10::Error&) {
    rows.clear();  // A corrupt cache is recomputed.
  }
}

void SaveEmbeddingCache(const std::string& path,
                        const std::unordered_map<std::string, torch::Tensor>& rows) {
  nlohmann::json paths = nlohmann::json::array();
  std::vector<torch::Tensor> tensors;
  for (const auto& [key, row] : rows) {
    paths.push_back(key);
    tensors.push_back(row);
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  try {
    torch::save(torch::stack(tensors), path);
    std::ofstream(path + ".json") << paths.dump();
  } catch (const c10::Error&) {
    // Caching is an optimization; a failure costs only time next run.
  }
}

}  // namespace

std::string TeacherId(const nn::Backbone& teacher) {
  Sha256Hasher hasher;
  for (const auto& item : teacher.named_parameters()) {
    const torch::Tensor t = item.value().detach().to(torch::kCPU).contiguous();
    hasher.Update(item.key());
    hasher.Update(std::string_view(static_cast<const char*>(t.data_ptr()), t.nbytes()));
  }
  return absl::StrCat(teacher.spec().architecture, "@sha256:", hasher.HexDigest());
}

absl::StatusOr<GeneratedSet> GetOrGenerateSet(
    const QuantizeJobConfig& config, nn::Backbone& teacher, torch::Device device,
    const std::function<void(const JobProgress&)>& progress) {
  QF_ASSIGN_OR_RETURN(const SourceKind kind, ParseSourceKind(config.source));
  if (kind != SourceKind::kBuiltin && kind != SourceKind::kInvertedFaces) {
    return absl::InvalidArgumentError(absl::StrCat(
        "source '", config.source, "' is not generated: only builtin and inverted-faces are"));
  }
  synth::InversionOptions inversion = config.inversion;
  inversion.should_stop = config.should_stop;
  if (kind == SourceKind::kInvertedFaces) inversion.start = synth::InversionStart::kRenderedFaces;
  GeneratedSet set;
  set.spec = synth::InversionSpec(TeacherId(teacher), teacher.spec().input, inversion);
  const auto generate = [&]() {
    return synth::GenerateByInversion(teacher, inversion, device,
                                      [&](int64_t done, int64_t total, double cos) {
                                        if (progress)
                                          progress({"synth", done, total, 1.0 - cos, 0});
                                      });
  };
  if (progress) progress({"synth", 0, inversion.num_images, 0, 0});
  if (config.cache_dir.empty()) {
    QF_ASSIGN_OR_RETURN(set.images, generate());
  } else {
    QF_ASSIGN_OR_RETURN(
        set.images,
        synth::SyntheticCache(config.cache_dir).GetOrCreate(set.spec, generate, &set.cache_hit));
  }
  return set;
}

namespace {

// InvalidArgument, naming the bound, unless min <= value <= max (a NaN fails).
absl::Status CheckAugmentationBound(const char* what, double value, double min, double max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("augmentation: the ", what, " bound must be in [",
                                                 min, ", ", max, "], got ", value));
}

// report["synthetic_eval"] (QuantizeJobConfig::synthetic_eval_images):
// the mean teacher-student embedding cosine on the training data and, for
// a generated set, on a held-out set generated alike with another seed.
// `training_images` is the training set (undefined for sources that make
// new images every batch: then `source` itself is measured, whose images
// are new ones).
absl::StatusOr<nlohmann::json> EvaluateOnSyntheticData(
    const QuantizeJobConfig& config, nn::Backbone& teacher, nn::Backbone& student,
    const torch::Tensor& training_images, synth::ImageSource& source, torch::Device device,
    const std::function<void(const JobProgress&)>& progress) {
  constexpr int64_t kBatch = 32;
  const int64_t wanted = config.synthetic_eval_images;
  // Each image once, as generated: no mirror, views or blends.
  const auto measure_set = [&](const torch::Tensor& images) {
    const int64_t n = std::min(wanted, images.size(0));
    synth::TensorSetSource plain(images.slice(0, 0, n), nlohmann::json::object(), config.seed,
                                 /*mirror=*/false);
    return MeasureEmbeddingAgreement(teacher, student, plain, n, kBatch, device);
  };
  const auto to_json = [](int64_t images, const EmbeddingAgreement& agreement) {
    return nlohmann::json{{"images", images},
                          {"mean_teacher_student_cosine", agreement.mean_cosine},
                          {"teacher_mean_pairwise_cosine", agreement.teacher_mean_pairwise_cosine}};
  };
  nlohmann::json json;
  if (training_images.defined()) {
    QF_ASSIGN_OR_RETURN(const EmbeddingAgreement agreement, measure_set(training_images));
    json["training"] = to_json(std::min(wanted, training_images.size(0)), agreement);
  } else {
    QF_ASSIGN_OR_RETURN(
        const EmbeddingAgreement agreement,
        MeasureEmbeddingAgreement(teacher, student, source, wanted, kBatch, device));
    json["training"] = to_json(wanted, agreement);
    json["training"]["new_images"] = true;
  }
  QF_ASSIGN_OR_RETURN(const SourceKind kind, ParseSourceKind(config.source));
  if (kind == SourceKind::kBuiltin || kind == SourceKind::kInvertedFaces) {
    QuantizeJobConfig held_out_config = config;
    held_out_config.inversion.seed = config.inversion.seed + kHeldOutSeedOffset;
    held_out_config.inversion.num_images = wanted;
    const auto start = std::chrono::steady_clock::now();
    QF_ASSIGN_OR_RETURN(const GeneratedSet held_out,
                        GetOrGenerateSet(held_out_config, teacher, device, progress));
    const double seconds = SecondsSince(start);
    QF_ASSIGN_OR_RETURN(const EmbeddingAgreement agreement, measure_set(held_out.images));
    json["held_out"] = to_json(held_out.images.size(0), agreement);
    json["held_out"]["seed"] = held_out_config.inversion.seed;
    json["held_out"]["cache_hit"] = held_out.cache_hit;
    json["held_out"]["seconds"] = seconds;
  }
  return json;
}

// How far apart the teacher places View 2's distinct images
// (eval::MeanPairwiseCosine of their embeddings in `teacher_rows`, keyed by
// image path), to set next to the spread of the synthetic training faces.
absl::StatusOr<double> TeacherSpreadOnLfw(
    const eval::LfwDataset& dataset,
    const std::unordered_map<std::string, torch::Tensor>& teacher_rows) {
  std::set<std::string> paths;
  for (const eval::LfwPair& pair : dataset.pairs) {
    paths.insert(dataset.ImagePath(pair.name_a, pair.number_a));
    paths.insert(dataset.ImagePath(pair.name_b, pair.number_b));
  }
  std::vector<torch::Tensor> rows;
  rows.reserve(paths.size());
  for (const std::string& path : paths) {
    const auto row = teacher_rows.find(path);
    if (row == teacher_rows.end()) {
      return absl::InternalError(absl::StrCat("no teacher embedding of ", path));
    }
    rows.push_back(row->second);
  }
  if (rows.empty()) return absl::InvalidArgumentError("LFW has no pairs");
  return eval::MeanPairwiseCosine(torch::stack(rows));
}

}  // namespace

absl::StatusOr<QuantizeJobResult> RunQuantizeJob(
    const QuantizeJobConfig& config, const std::function<void(const JobProgress&)>& progress) {
  const auto job_start = std::chrono::steady_clock::now();
  const auto report_progress = [&](JobProgress p) {
    if (progress) progress(p);
  };
  const bool cuda = config.allow_cuda && torch::cuda::is_available();
  const torch::Device device =
      cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(config.cuda_device))
           : torch::Device(torch::kCPU);
  if (!cuda && config.threads > 0) torch::set_num_threads(config.threads);
  torch::manual_seed(config.seed);

  const auto check_stop = [&](const char* phase) -> absl::Status {
    if (config.should_stop && config.should_stop()) {
      return absl::CancelledError(absl::StrCat("job cancelled before ", phase));
    }
    return absl::OkStatus();
  };
  QatOptions qat = config.qat;
  qat.should_stop = config.should_stop;
  PtqOptions ptq = config.ptq;
  ptq.should_stop = config.should_stop;
  ptq.progress = [&](int64_t done, int64_t total) {
    if (progress) progress({"ptq", done, total, 0, 0});
  };

  QuantizeJobResult result;
  QF_ASSIGN_OR_RETURN(result.teacher, nn::LoadBuiltinModel(config.teacher, config.asset_dir));
  QF_ASSIGN_OR_RETURN(result.student, nn::LoadBuiltinModel(config.teacher, config.asset_dir));
  const std::string teacher_id = TeacherId(*result.teacher);
  const nn::InputSpec& input = result.teacher->spec().input;
  // Refused here, not only by FakeQuantHooks::Attach, so that a job that
  // cannot succeed fails before generating its synthetic set.
  if (config.keep_depthwise_8bit && !HasDepthwiseConv(*result.teacher)) {
    return absl::FailedPreconditionError(
        absl::StrCat("keep_depthwise_8bit: '", config.teacher, "' has no depthwise conv"));
  }
  if ((config.keep_add_operands_8bit || config.keep_residual_operands_8bit) &&
      !HasAddOperands(*result.teacher)) {
    return absl::FailedPreconditionError(absl::StrCat(
        config.keep_add_operands_8bit ? "keep_add_operands_8bit" : "keep_residual_operands_8bit",
        ": '", config.teacher, "' has no residual adds"));
  }
  QF_RETURN_IF_ERROR(CheckKeep8BitLayers(*result.teacher, config.keep_8bit_layers));
  if (config.residual_stream_equalization != 0.0 && !config.init_student_path.empty()) {
    return absl::InvalidArgumentError(
        "residual stream equalization and an initial student cannot be combined: the "
        "student's weights carry their own scaling");
  }
  // Before the synthetic set, so that a wrong file fails the job at once.
  const auto initialize_student = [&]() -> absl::StatusOr<nlohmann::json> {
    if (config.init_student_path.empty()) return nlohmann::json();
    return InitializeFromStudent(config.init_student_path, teacher_id, *result.student);
  };
  QF_ASSIGN_OR_RETURN(const nlohmann::json initialized_from, initialize_student());
  // Residual stream factors, measured on the teacher once; every fresh
  // student (and QAT's teacher) gets the same.
  torch::Tensor stream_factors;
  if (config.residual_stream_equalization != 0.0) {
    QF_ASSIGN_OR_RETURN(const auto faces, synth::ProceduralFaceSource::Create(input, config.seed));
    torch::NoGradGuard no_grad;
    QF_ASSIGN_OR_RETURN(stream_factors, ResidualStreamFactors(*result.teacher,
                                                              faces->NextBatch(kEqualizationImages),
                                                              config.residual_stream_equalization));
  }
  const auto equalize = [&](nn::Backbone& model) -> absl::Status {
    if (!stream_factors.defined()) return absl::OkStatus();
    return ScaleResidualStream(model, stream_factors);
  };
  QF_RETURN_IF_ERROR(equalize(*result.student));

  QF_ASSIGN_OR_RETURN(const SourceKind source_kind, ParseSourceKind(config.source));
  if (config.synthetic_eval_images < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic_eval_images must be >= 0 (0: none), got ", config.synthetic_eval_images));
  }
  QF_RETURN_IF_ERROR(CheckAugmentationBound("blend weight", config.augmentation.max_blend, 0.0,
                                            synth::SetAugmentation::kMaxBlend));
  QF_RETURN_IF_ERROR(CheckAugmentationBound("colour jitter", config.augmentation.max_color_jitter,
                                            0.0, synth::SetAugmentation::kMaxColorJitter));
  QF_RETURN_IF_ERROR(CheckAugmentationBound("downscale factor", config.augmentation.max_downscale,
                                            1.0, synth::SetAugmentation::kMaxDownscale));
  if (config.augmentation.enabled() && !IsImageSet(source_kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "augmentation applies to the sources builtin, inverted-faces and folder, not '",
        config.source, "'"));
  }

  // The training/calibration source: synthetic only.
  const auto synth_start = std::chrono::steady_clock::now();
  std::unique_ptr<synth::ImageSource> source;
  torch::Tensor training_images;  // Sources that are one set of images: the set.
  bool cache_hit = false;
  switch (source_kind) {
    case SourceKind::kNoise:
      source = std::make_unique<synth::NoiseSource>(input, config.seed);
      break;
    case SourceKind::kProcedural: {
      QF_ASSIGN_OR_RETURN(source, synth::ProceduralFaceSource::Create(input, config.seed));
      break;
    }
    case SourceKind::kProceduralAndNoise: {
      std::vector<std::unique_ptr<synth::ImageSource>> parts;
      std::unique_ptr<synth::ImageSource> faces;
      QF_ASSIGN_OR_RETURN(faces, synth::ProceduralFaceSource::Create(input, config.seed));
      parts.push_back(std::move(faces));
      parts.push_back(std::make_unique<synth::NoiseSource>(input, config.seed + 1));
      source = std::make_unique<synth::MixedSource>(std::move(parts));
      break;
    }
    case SourceKind::kBuiltin:
    case SourceKind::kInvertedFaces: {
      QF_ASSIGN_OR_RETURN(GeneratedSet set,
                          GetOrGenerateSet(config, *result.teacher, device, progress));
      cache_hit = set.cache_hit;
      training_images = set.images;
      source = std::make_unique<synth::TensorSetSource>(std::move(set.images), std::move(set.spec),
                                                        config.seed, /*mirror=*/true,
                                                        config.augmentation);
      break;
    }
    case SourceKind::kFolder: {
      synth::FolderOptions folder_options;
      folder_options.declared_synthetic = config.folder_declared_synthetic;
      QF_ASSIGN_OR_RETURN(torch::Tensor images,
                          synth::LoadSyntheticFolder(config.folder, input, folder_options));
      training_images = images;
      source = std::make_unique<synth::TensorSetSource>(
          images, synth::FolderSpec(config.folder, input, folder_options), config.seed,
          /*mirror=*/true, config.augmentation);
      break;
    }
    case SourceKind::kGenerator: {
      if (!config.generator_declared_synthetic) {
        return absl::InvalidArgumentError(
            "a generator is a training source only when declared synthetic (no real person)");
      }
      QF_ASSIGN_OR_RETURN(std::unique_ptr<synth::TorchScriptGenerator> generator,
                          synth::TorchScriptGenerator::Load(config.generator_path,
                                                            config.generator_latent_dim, device));
      source = std::make_unique<synth::GeneratorSource>(std::move(generator), input, config.seed,
                                                        config.generator_description);
      break;
    }
  }
  const double synth_seconds = SecondsSince(synth_start);
  QF_RETURN_IF_ERROR(check_stop("training"));

  FakeQuantOptions fq;
  fq.bits = config.bits;
  fq.keep_first_last_8bit = config.keep_first_last_8bit;
  fq.keep_depthwise_8bit = config.keep_depthwise_8bit;
  fq.keep_8bit_layers = config.keep_8bit_layers;
  fq.keep_add_operands_8bit = config.keep_add_operands_8bit;
  fq.keep_residual_operands_8bit = config.keep_residual_operands_8bit;
  fq.weight_scheme = config.weight_scheme;
  fq.activation_ranges = config.activation_ranges;
  fq.weight_ranges = config.weight_ranges;
  QF_ASSIGN_OR_RETURN(result.hooks, FakeQuantHooks::Attach(*result.student, fq));

  nlohmann::json& report = result.report;
  report["teacher"] = {{"name", config.teacher}, {"id", teacher_id}};
  report["bits"] = QuantBitsName(config.bits);
  if (!initialized_from.is_null()) report["initialized_from"] = initialized_from;
  if (stream_factors.defined()) {
    report["residual_stream_equalization"] = {{"strength", config.residual_stream_equalization},
                                              {"images", kEqualizationImages},
                                              {"min_factor", stream_factors.min().item<double>()},
                                              {"max_factor", stream_factors.max().item<double>()}};
  }
  report["keep_first_last_8bit"] = config.keep_first_last_8bit;
  report["keep_depthwise_8bit"] = config.keep_depthwise_8bit;
  report["keep_8bit_layers"] = config.keep_8bit_layers;
  report["keep_add_operands_8bit"] = config.keep_add_operands_8bit;
  report["keep_residual_operands_8bit"] = config.keep_residual_operands_8bit;
  report["weight_scheme"] = WeightSchemeName(config.weight_scheme);
  report["activation_ranges"] = RangeEstimatorName(config.activation_ranges);
  report["weight_ranges"] = RangeEstimatorName(config.weight_ranges);
  report["device"] = cuda ? absl::StrCat("cuda:", config.cuda_device) : "cpu";
  report["threads"] = torch::get_num_threads();
  report["synthetic"] = {
      {"spec", source->spec()}, {"cache_hit", cache_hit}, {"seconds", synth_seconds}};

  const auto train_start = std::chrono::steady_clock::now();
  if (config.method == QuantMethod::kQat) {
    // An equalized student distills from a teacher scaled alike (same
    // function, same feature scales); the unscaled one stays for evaluation.
    std::shared_ptr<nn::Backbone> qat_teacher = result.teacher;
    if (stream_factors.defined()) {
      QF_ASSIGN_OR_RETURN(qat_teacher, nn::LoadBuiltinModel(config.teacher, config.asset_dir));
      QF_RETURN_IF_ERROR(equalize(*qat_teacher));
    }
    QF_ASSIGN_OR_RETURN(const QatReport qat_report,
                        RunQat(*qat_teacher, *result.student, *result.hooks, *source, qat, device,
                               [&](const QatProgress& p) {
                                 report_progress({"qat", p.step, p.total, p.loss, p.learning_rate});
                               }));
    report["method"] = "qat";
    report["training"] = QatOptionsToJson(config.qat);
    report["training"]["first_loss"] = qat_report.first_loss;
    report["training"]["last_loss"] = qat_report.last_loss;
    report["training"]["resumed_from_step"] = qat_report.resumed_from_step;
    report["training"]["oscillations"] = OscillationsToJson(qat_report.oscillations);
    if (!qat_report.rounding.empty()) {
      report["training"]["learned_rounding"]["decisions"] = RoundingToJson(qat_report.rounding);
    }
  } else {
    // The ranges are PTQ's whole result: a run that finds them saved by an
    // earlier run of this job (killed later, e.g. while evaluating) skips
    // calibration. The SGD optimizer only satisfies the checkpoint format.
    bool restored = false;
    if (!config.ptq_checkpoint_path.empty()) {
      torch::optim::SGD no_optimizer(result.student->parameters(), torch::optim::SGDOptions(0));
      const absl::StatusOr<int64_t> loaded = LoadQatCheckpoint(
          config.ptq_checkpoint_path, *result.student, *result.hooks, no_optimizer, device);
      restored = loaded.ok() && *loaded == config.ptq.num_images;
      if (!restored && !absl::IsNotFound(loaded.status())) {
        // Unusable or incomplete: start over from a fresh student.
        QF_ASSIGN_OR_RETURN(result.student, nn::LoadBuiltinModel(config.teacher, config.asset_dir));
        QF_RETURN_IF_ERROR(initialize_student().status());
        QF_RETURN_IF_ERROR(equalize(*result.student));
        QF_ASSIGN_OR_RETURN(result.hooks, FakeQuantHooks::Attach(*result.student, fq));
      }
    }
    if (restored) {
      result.hooks->set_observing(false);
      result.student->to(device);
    } else {
      report_progress({"ptq", 0, config.ptq.num_images, 0, 0});
      QF_RETURN_IF_ERROR(CalibratePtq(*result.student, *result.hooks, *source, ptq, device));
      if (!config.ptq_checkpoint_path.empty()) {
        torch::optim::SGD no_optimizer(result.student->parameters(), torch::optim::SGDOptions(0));
        // A failed save costs only a recalibration after a restart.
        SaveQatCheckpoint(config.ptq_checkpoint_path, config.ptq.num_images, *result.student,
                          *result.hooks, no_optimizer)
            .IgnoreError();
      }
    }
    report["method"] = "ptq";
    report["training"] = {{"calibration_images", config.ptq.num_images},
                          {"batch_size", config.ptq.batch_size},
                          {"restored_from_checkpoint", restored}};
  }
  report["training"]["seconds"] = SecondsSince(train_start);
  if (config.synthetic_eval_images > 0) {
    QF_RETURN_IF_ERROR(check_stop("evaluation"));
    QF_ASSIGN_OR_RETURN(report["synthetic_eval"],
                        EvaluateOnSyntheticData(config, *result.teacher, *result.student,
                                                training_images, *source, device, progress));
  }
  report["quantization"] = LayersToJson(*result.hooks);

  if (!config.lfw_dir.empty()) {
    QF_RETURN_IF_ERROR(check_stop("evaluation"));
    QF_ASSIGN_OR_RETURN(const eval::LfwDataset dataset, eval::LoadLfwDataset(config.lfw_dir));
    // Teacher embeddings are cached next to the synthetic sets: they depend
    // only on the teacher's weights, the dataset and the flip setting.
    std::unordered_map<std::string, torch::Tensor> teacher_rows;
    const std::string teacher_cache =
        config.cache_dir.empty()
            ? std::string()
            : (std::filesystem::path(config.cache_dir) /
               absl::StrCat("lfw-teacher-",
                            Sha256Hex(absl::StrCat(teacher_id, "|", dataset.root, "|",
                                                   config.lfw_flip ? "flip" : "noflip")),
                            ".pt"))
                  .string();
    if (!teacher_cache.empty()) LoadEmbeddingCache(teacher_cache, teacher_rows);
    const bool had_teacher = !teacher_rows.empty();
    // Two passes when the student has an integer forward (the fake-quant
    // simulation, then the student as served), and every pair after them
    // when asked; progress counts all of their images.
    const bool integer_pass = Int8Model::HasForward(result.student->spec().architecture);
    const int64_t passes = integer_pass ? 2 : 1;
    int64_t pass = 0;
    eval::LfwAllPairsOptions all_pairs_options;
    all_pairs_options.max_people = config.lfw_all_pairs_max_people;
    all_pairs_options.flip = config.lfw_flip;
    all_pairs_options.should_stop = config.should_stop;
    int64_t all_pairs_images = 0;
    if (config.lfw_all_pairs) {
      QF_ASSIGN_OR_RETURN(const eval::LfwAllPairsSelection selection,
                          eval::SelectLfwAllPairsImages(dataset, all_pairs_options));
      // The student's images, then the teacher's (cached ones count too).
      all_pairs_images = 2 * static_cast<int64_t>(selection.images.size());
    }
    int64_t view2_images = 0;
    StudentLfwOptions lfw_options;
    lfw_options.teacher_embeddings = &teacher_rows;
    lfw_options.flip = config.lfw_flip;
    lfw_options.should_stop = config.should_stop;
    lfw_options.progress = [&](size_t done, size_t total) {
      view2_images = static_cast<int64_t>(total);
      report_progress({"lfw", pass * view2_images + static_cast<int64_t>(done),
                       passes * view2_images + all_pairs_images, 0, 0});
    };
    QF_ASSIGN_OR_RETURN(
        const StudentLfwReport lfw,
        EvaluateStudentOnLfw(dataset, *result.teacher, *result.student, device, lfw_options));
    if (!teacher_cache.empty() && !had_teacher) SaveEmbeddingCache(teacher_cache, teacher_rows);
    report["lfw"] = StudentLfwReportToJson(lfw);
    report["lfw"]["teacher_embeddings_cached"] = had_teacher;
    QF_ASSIGN_OR_RETURN(report["lfw"]["teacher_mean_pairwise_cosine"],
                        TeacherSpreadOnLfw(dataset, teacher_rows));
    // Thresholds of mirror-averaged embeddings are not Match's (the
    // registry keeps such evaluations out of Match).
    report["lfw"]["flip"] = config.lfw_flip;
    result.lfw = lfw;
    if (integer_pass) {
      ++pass;
      QF_RETURN_IF_ERROR(check_stop("evaluation"));
      QF_ASSIGN_OR_RETURN(IntegerLfwReport integer,
                          EvaluateIntegerStudentOnLfw(dataset, *result.teacher, *result.student,
                                                      *result.hooks, lfw_options));
      report["lfw_integer"] = StudentLfwReportToJson(integer.lfw);
      report["lfw_integer"]["engine"] = integer.engine;
      report["lfw_integer"]["flip"] = config.lfw_flip;
      result.lfw_integer = std::move(integer);
    }
    if (config.lfw_all_pairs) {
      QF_RETURN_IF_ERROR(check_stop("evaluation"));
      all_pairs_options.progress = [&](size_t done, size_t total) {
        report_progress({"lfw", passes * view2_images + static_cast<int64_t>(done),
                         passes * view2_images + static_cast<int64_t>(total), 0, 0});
      };
      // The teacher's rows of every pair join View 2's in the same cache.
      const TeacherAllPairsInput teacher{result.teacher, &teacher_rows};
      const size_t cached_rows = teacher_rows.size();
      QF_ASSIGN_OR_RETURN(
          StudentAllPairsReport all_pairs,
          EvaluateServedStudentOnLfwAllPairs(dataset, *result.student, *result.hooks,
                                             all_pairs_options, &teacher));
      if (!teacher_cache.empty() && teacher_rows.size() > cached_rows)
        SaveEmbeddingCache(teacher_cache, teacher_rows);
      report["lfw_all_pairs"] = StudentAllPairsReportToJson(all_pairs);
      report["lfw_all_pairs"]["flip"] = config.lfw_flip;
      result.lfw_all_pairs = std::move(all_pairs);
    }
  }
  report["seconds"] = SecondsSince(job_start);
  return result;
}

}  // namespace qf::quant
