#include "server/jobs/quantize_job_runner.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/eval/protocol_names.h"
#include "core/eval/roc_plot.h"
#include "core/quant/packed_model.h"
#include "core/quant/quantize_job.h"
#include "server/registry/model_inspector.h"

namespace qf::server {
namespace {

using Clock = std::chrono::steady_clock;

v1::JobProgress::Phase PhaseOf(const std::string& engine_phase) {
  if (engine_phase == "synth") return v1::JobProgress::PHASE_GENERATING_DATA;
  if (engine_phase == "qat" || engine_phase == "ptq") return v1::JobProgress::PHASE_TRAINING;
  if (engine_phase == "lfw") return v1::JobProgress::PHASE_EVALUATING;
  return v1::JobProgress::PHASE_UNSPECIFIED;
}

quant::WeightScheme ToEngineWeightScheme(v1::JobConfig::WeightScheme scheme) {
  switch (scheme) {
    case v1::JobConfig::WEIGHT_SCHEME_SYMMETRIC:
      return quant::WeightScheme::kSymmetric;
    case v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC:
      return quant::WeightScheme::kAsymmetric;
    default:  // AUTO, or UNSPECIFIED in a config the validator has not filled.
      return quant::WeightScheme::kAuto;
  }
}

std::string PhaseName(v1::JobProgress::Phase phase) {
  std::string name = v1::JobProgress::Phase_Name(phase);  // "PHASE_TRAINING" -> "training".
  if (name.rfind("PHASE_", 0) == 0) name = name.substr(6);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return name;
}

absl::StatusOr<quant::QuantizeJobConfig> EngineConfig(const v1::Job& job,
                                                      const JobRunContext& context,
                                                      const QuantizeRunnerOptions& options,
                                                      const ModelRegistry& registry) {
  const v1::JobConfig& config = job.config();
  quant::QuantizeJobConfig engine;
  engine.teacher = config.teacher_model().substr(7);
  engine.asset_dir = options.asset_dir;
  engine.bits = {config.weight_bits(), config.activation_bits()};
  engine.keep_first_last_8bit = config.keep_first_last_8bit();
  engine.keep_depthwise_8bit = config.keep_depthwise_8bit();
  engine.keep_8bit_layers.assign(config.keep_8bit_layers().begin(),
                                 config.keep_8bit_layers().end());
  engine.keep_add_operands_8bit = config.keep_add_operands_8bit();
  engine.keep_residual_operands_8bit = config.keep_residual_operands_8bit();
  if (!config.initial_student_model().empty()) {
    // Like the generator below, kept from deletion while the job is queued
    // or running (JobsUsingModel); the engine checks its teacher again.
    auto path = registry.FilePath(config.initial_student_model());
    if (!path.ok()) return path.status();
    engine.init_student_path = *path;
  }
  engine.weight_scheme = ToEngineWeightScheme(config.weight_scheme());
  engine.activation_ranges = config.activation_ranges() == v1::JobConfig::ACTIVATION_RANGES_MSE
                                 ? quant::RangeEstimator::kMse
                                 : quant::RangeEstimator::kMinMax;
  engine.weight_ranges = config.weight_ranges() == v1::JobConfig::WEIGHT_RANGES_MSE
                             ? quant::RangeEstimator::kMse
                             : quant::RangeEstimator::kMinMax;
  engine.method = config.method() == v1::JobConfig::METHOD_PTQ ? quant::QuantMethod::kPtq
                                                               : quant::QuantMethod::kQat;
  const v1::SyntheticDataConfig& data = config.synthetic_data();
  switch (data.source()) {
    case v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE:
      engine.source = "noise";
      break;
    case v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES:
      engine.source = "procedural";
      break;
    case v1::SyntheticDataConfig::SOURCE_INVERTED_FACES:
      engine.source = "inverted-faces";
      engine.inversion.num_images = data.num_images();
      engine.inversion.spread = data.spread();
      break;
    case v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER:
      engine.source = "folder";
      engine.folder = data.image_folder();
      engine.folder_declared_synthetic = data.declared_synthetic();
      break;
    case v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL: {
      // The scheduler keeps the generator from being deleted while the job
      // is queued or running (JobsUsingModel).
      auto generator = registry.Get(data.generator_model());
      if (!generator.ok()) return generator.status();
      auto path = registry.FilePath(data.generator_model());
      if (!path.ok()) return path.status();
      engine.source = "generator";
      engine.generator_path = *path;
      engine.generator_latent_dim = generator->generator().latent_dim();
      engine.generator_declared_synthetic = generator->generator().declared_synthetic();
      engine.generator_description = {{"model", generator->name()},
                                      {"sha256", generator->sha256()}};
      break;
    }
    default:
      engine.source = "builtin";
      engine.inversion.num_images = data.num_images();
      break;
  }
  engine.seed = data.seed();
  engine.cache_dir = options.synthetic_cache_dir;
  engine.qat.steps = config.steps();
  engine.qat.batch_size = config.batch_size();
  engine.qat.warmup_steps = config.activation_warmup_steps();
  engine.qat.learn_activation_ranges = config.learn_activation_ranges();
  engine.qat.feature_loss_weight = config.feature_loss_weight();
  engine.qat.optimizer = config.optimizer().algorithm() == v1::OptimizerConfig::ALGORITHM_ADAMW
                             ? quant::QatOptimizer::kAdam
                             : quant::QatOptimizer::kSgd;
  engine.qat.learning_rate = config.optimizer().learning_rate();
  engine.qat.momentum = config.optimizer().momentum();
  engine.qat.nesterov = config.optimizer().nesterov();
  engine.qat.weight_decay = config.optimizer().weight_decay();
  engine.qat.schedule = config.optimizer().schedule() == v1::OptimizerConfig::SCHEDULE_STEP
                            ? quant::LrSchedule::kStep
                            : quant::LrSchedule::kCosine;
  engine.qat.grad_clip_norm = config.optimizer().gradient_clip_norm();
  engine.qat.checkpoint_path = (std::filesystem::path(context.work_dir) / "checkpoint.pt").string();
  engine.qat.checkpoint_every = options.checkpoint_every;
  engine.ptq.num_images = int64_t{config.steps()} * config.batch_size();
  engine.ptq.batch_size = config.batch_size();
  engine.ptq_checkpoint_path = (std::filesystem::path(context.work_dir) / "ptq_ranges.pt").string();
  if (!config.evaluation_protocol().empty()) {
    engine.lfw_dir = options.protocols.at(config.evaluation_protocol());
    engine.lfw_all_pairs = config.evaluation_protocol() == eval::kLfwAllPairsBenchmark;
    engine.lfw_all_pairs_max_people = options.all_pairs_max_people;
  }
  engine.threads = context.cuda_index >= 0 ? 0 : options.cpu_threads;
  engine.allow_cuda = context.cuda_index >= 0;
  engine.cuda_device = std::max(context.cuda_index, 0);
  engine.should_stop = context.should_stop;
  return engine;
}

// Turns the engine's per-step callbacks into JobProgress with throughput and
// ETA measured over the current phase, and keeps the job's log: a line per
// phase start, per tenth of a phase and per phase's last step.
class ProgressTracker {
 public:
  explicit ProgressTracker(const JobRunContext& context) : context_(context) {}

  void Report(const quant::JobProgress& p) {
    const auto now = Clock::now();
    const v1::JobProgress::Phase phase = PhaseOf(p.phase);
    if (phase != phase_) {
      phase_ = phase;
      phase_start_ = now;
      first_done_ = p.done;
      next_log_ = 0;
      Log(absl::StrCat("phase ", PhaseName(phase), " (", p.phase, ") started"));
    }
    if (p.total > 0 && (p.done >= next_log_ || p.done == p.total)) {
      next_log_ = p.done + std::max<int64_t>(1, p.total / 10);
      Log(absl::StrFormat("%s %d/%d loss %.6g lr %.4g", p.phase, p.done, p.total, p.loss,
                          p.learning_rate));
    }
    v1::JobProgress progress;
    progress.set_phase(phase);
    progress.set_step(p.done);
    progress.set_total_steps(p.total);
    progress.set_loss(p.loss);
    const double seconds = std::chrono::duration<double>(now - phase_start_).count();
    if (seconds > 0 && p.done > first_done_) {
      const double rate = static_cast<double>(p.done - first_done_) / seconds;
      progress.set_steps_per_second(rate);
      const double eta = static_cast<double>(p.total - p.done) / rate;
      *progress.mutable_eta() =
          google::protobuf::util::TimeUtil::MillisecondsToDuration(static_cast<int64_t>(eta * 1e3));
    }
    progress.set_device(context_.device);
    context_.report_progress(progress);
  }

  void Log(const std::string& line) {
    absl::StrAppend(&log_,
                    google::protobuf::util::TimeUtil::ToString(
                        google::protobuf::util::TimeUtil::GetCurrentTime()),
                    " ", line, "\n");
  }
  const std::string& log() const { return log_; }

  void Exporting() {
    Log("phase exporting started");
    v1::JobProgress progress;
    progress.set_phase(v1::JobProgress::PHASE_EXPORTING);
    progress.set_device(context_.device);
    context_.report_progress(progress);
  }

 private:
  const JobRunContext& context_;
  v1::JobProgress::Phase phase_ = v1::JobProgress::PHASE_UNSPECIFIED;
  Clock::time_point phase_start_ = Clock::now();
  int64_t first_done_ = 0;
  int64_t next_log_ = 0;
  std::string log_;
};

// The evaluation's ROC plot: teacher, student and cross-model curves on
// LFW with the FAR 1e-2 / 1e-3 / 1e-4 operating points marked.
absl::StatusOr<std::string> RenderLfwRoc(const quant::StudentLfwReport& lfw,
                                         const std::string& model_id) {
  const auto label = [](const char* who, const eval::VerificationMetrics& m) {
    return absl::StrFormat("%s (%.2f %%)", who, 100 * m.accuracy_mean);
  };
  eval::RocPlotOptions options;
  options.title = absl::StrCat("LFW ROC: ", model_id);
  options.marked_fars = {1e-2, 1e-3, 1e-4};
  return eval::RenderRocPng({{label("teacher", lfw.teacher), &lfw.teacher.roc},
                             {label("student", lfw.student), &lfw.student.roc},
                             {label("cross teacher/student", lfw.cross), &lfw.cross.roc}},
                            options);
}

absl::StatusOr<std::string> RunJob(const v1::Job& job, const JobRunContext& context,
                                   const QuantizeRunnerOptions& options, ModelRegistry& registry) {
  const std::string model_id = OutputModelId(job);
  const std::string model_name = absl::StrCat("models/", model_id);
  // A previous run of this job may have stored its model and died before
  // recording SUCCEEDED: reuse it rather than train a duplicate.
  if (auto existing = registry.Get(model_name); existing.ok()) {
    if (existing->source_job() == job.name()) return model_name;
    return absl::AlreadyExistsError(
        absl::StrCat("output model ", model_name, " exists and was not made by this job"));
  }
  std::error_code ec;
  std::filesystem::create_directories(context.work_dir, ec);

  ProgressTracker tracker(context);
  tracker.Log(absl::StrCat("job ", job.name(), " started on ", context.device));
  auto engine = EngineConfig(job, context, options, registry);
  if (!engine.ok()) return engine.status();
  auto result =
      quant::RunQuantizeJob(*engine, [&](const quant::JobProgress& p) { tracker.Report(p); });
  if (!result.ok()) return result.status();
  if (context.should_stop()) return absl::CancelledError("job cancelled before export");
  // What this run took over from earlier work instead of redoing it.
  if (result->report["synthetic"].value("cache_hit", false)) {
    tracker.Log("synthetic set reused from the cache (content-addressed), not generated again");
  }
  if (const auto& start = result->report.find("initialized_from"); start != result->report.end()) {
    tracker.Log(absl::StrCat("started from the weights of ", job.config().initial_student_model(),
                             " (sha256 ", start->value("sha256", ""), ", ",
                             start->value("layers", 0), " layers), not the teacher's"));
  }
  if (result->report["training"].value("restored_from_checkpoint", false)) {
    tracker.Log("calibration restored from this job's checkpoint, not run again");
  }
  if (result->report["training"].value("resumed_from_step", int64_t{0}) > 0) {
    tracker.Log(absl::StrCat("training resumed from the checkpoint at step ",
                             result->report["training"]["resumed_from_step"].get<int64_t>()));
  }

  tracker.Exporting();
  nlohmann::json metadata = result->report;
  metadata["job"] = job.name();
  std::string synthetic_json;
  if (google::protobuf::util::MessageToJsonString(job.config().synthetic_data(), &synthetic_json)
          .ok()) {
    metadata[kSyntheticConfigKey] = synthetic_json;
  }
  const std::string file = (std::filesystem::path(context.work_dir) / "model.qfp").string();
  if (absl::Status s = quant::WritePackedModel(file, *result->student, *result->hooks, metadata);
      !s.ok()) {
    return s;
  }
  auto writer = registry.NewUpload();
  if (!writer.ok()) return writer.status();
  std::ifstream in(file, std::ios::binary);
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() <= 0) break;
    if (absl::Status s = (*writer)->Append(std::string_view(buffer.data(), in.gcount())); !s.ok()) {
      return s;
    }
  }
  NewModel request;
  request.id = model_id;
  request.display_name = job.config().output_display_name();
  request.format = v1::MODEL_FORMAT_PACKED_QUANTIZED;
  request.source_job = job.name();
  if (result->lfw.has_value()) {
    auto png = RenderLfwRoc(*result->lfw, model_id);
    if (!png.ok()) return png.status();
    request.artifacts.push_back({"roc", "image/png", *std::move(png)});
    tracker.Log(absl::StrFormat(
        "lfw accuracy teacher %.4f student %.4f cross %.4f", result->lfw->teacher.accuracy_mean,
        result->lfw->student.accuracy_mean, result->lfw->cross.accuracy_mean));
    if (result->lfw_integer.has_value()) {
      tracker.Log(absl::StrFormat("lfw accuracy integer (%s, as served) %.4f cross %.4f",
                                  result->lfw_integer->engine,
                                  result->lfw_integer->lfw.student.accuracy_mean,
                                  result->lfw_integer->lfw.cross.accuracy_mean));
    }
  }
  tracker.Log(absl::StrCat("model ", model_name, " stored"));
  request.artifacts.push_back({"log", "text/plain", tracker.log()});
  auto model = registry.AddModel(request, **writer);
  if (!model.ok()) return model.status();
  return model->name();
}

}  // namespace

std::string OutputModelId(const v1::Job& job) {
  return absl::StrCat(job.config().teacher_model().substr(7), "-w", job.config().weight_bits(), "a",
                      job.config().activation_bits(), "-", job.name().substr(5));
}

JobRunner MakeQuantizeJobRunner(QuantizeRunnerOptions options, ModelRegistry& registry) {
  return
      [options = std::move(options), &registry](const v1::Job& job, const JobRunContext& context) {
        return RunJob(job, context, options, registry);
      };
}

}  // namespace qf::server
