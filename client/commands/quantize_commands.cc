// `quantface quantize ...`: an offline quantization job (QAT or PTQ) that runs
// in this process, without the server: the same core::quant code path the
// server's job system calls, for reproducing and benchmarking jobs.
// `quantface synth-export ...`: the generated training set such a job uses
// (the same cache), written out as image files.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_format.h"
#include "client/commands/commands.h"
#include "core/eval/verification_report.h"
#include "core/image/tensor_conversion.h"
#include "core/nn/model_zoo.h"
#include "core/quant/packed_model.h"
#include "core/quant/quantize_job.h"

namespace qf::cli {
namespace {

struct QuantizeFlags {
  quant::QuantizeJobConfig job;
  std::string bits = "w8a8";
  std::string weight_scheme = "auto";
  std::string activation_ranges = "minmax";
  std::string weight_ranges = "minmax";
  std::string method = "qat";
  std::string schedule = "cosine";
  std::string optimizer = "sgd";
  std::string learned_rounding = "none";
  std::string out;
  std::string report;
};

std::string FormatDuration(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// One status line per phase on stderr, rewritten in place, with an ETA from
// the phase's average rate so far.
class ProgressLine {
 public:
  void Update(const quant::JobProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.phase != phase_) {
      if (!phase_.empty()) std::fputc('\n', stderr);
      phase_ = p.phase;
      start_ = now;
      start_done_ = p.done;
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const int64_t advanced = p.done - start_done_;
    const double eta = advanced > 0 ? elapsed / static_cast<double>(advanced) *
                                          static_cast<double>(p.total - p.done)
                                    : 0;
    std::string line = absl::StrFormat("[%s] %d/%d", p.phase, p.done, p.total);
    if (p.phase == "qat") line += absl::StrFormat("  loss %.6f  lr %.5f", p.loss, p.learning_rate);
    if (p.phase == "synth") line += absl::StrFormat("  1-cos %.4f", p.loss);
    line += absl::StrFormat("  elapsed %s  eta %s", FormatDuration(elapsed), FormatDuration(eta));
    std::fprintf(stderr, "\r%-100s", line.c_str());
    std::fflush(stderr);
  }
  void Finish() {
    if (!phase_.empty()) std::fputc('\n', stderr);
  }

 private:
  std::string phase_;
  std::chrono::steady_clock::time_point start_;
  int64_t start_done_ = 0;
};

// What both offline commands fill in before running: the generated set's
// seed is the job's, and 0 threads means every core.
void ResolveOfflineDefaults(quant::QuantizeJobConfig& job) {
  job.inversion.seed = job.seed;
  if (job.threads == 0) {
    job.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
}

// The options that decide which generated set a command uses and where it
// runs: `quantize` and `synth-export` share them, so the same flags name the
// same cached set in both.
void AddGenerationOptions(CLI::App& cmd, quant::QuantizeJobConfig& job) {
  cmd.add_option("--teacher", job.teacher, "Built-in teacher model")->capture_default_str();
  cmd.add_option("--asset-dir", job.asset_dir, "Model assets (scripts/fetch_assets.sh)")
      ->capture_default_str();
  cmd.add_option("--cache-dir", job.cache_dir, "Cache of generated synthetic sets")
      ->capture_default_str();
  cmd.add_option("--synth-images", job.inversion.num_images, "Built-in generator: images")
      ->capture_default_str();
  cmd.add_option("--synth-steps", job.inversion.steps, "Built-in generator: steps per batch")
      ->capture_default_str();
  cmd.add_option("--synth-lr", job.inversion.learning_rate,
                 "Built-in generator: Adam step size, in pixel levels (0..255); 0: 12.75 for "
                 "builtin, 2.55 for inverted-faces")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--synth-spread", job.inversion.spread,
                 "inverted-faces: each face's identity is pushed this many times as far from "
                 "the batch's mean embedding")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--seed", job.seed, "Random seed")->capture_default_str();
  cmd.add_option("--threads", job.threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd.add_flag(
      "--cpu", [&job](int64_t) { job.allow_cuda = false; }, "Do not use CUDA");
}

int RunQuantize(QuantizeFlags flags) {
  auto bits = quant::ParseQuantBits(flags.bits);
  if (!bits.ok()) {
    std::cerr << "error: " << bits.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.bits = *bits;
  auto scheme = quant::ParseWeightScheme(flags.weight_scheme);
  if (!scheme.ok()) {
    std::cerr << "error: --weight-scheme: " << scheme.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.weight_scheme = *scheme;
  auto ranges = quant::ParseRangeEstimator(flags.activation_ranges);
  if (!ranges.ok()) {
    std::cerr << "error: --activation-ranges: " << ranges.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.activation_ranges = *ranges;
  auto weight_ranges = quant::ParseRangeEstimator(flags.weight_ranges);
  if (!weight_ranges.ok()) {
    std::cerr << "error: --weight-ranges: " << weight_ranges.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.weight_ranges = *weight_ranges;
  if (flags.method != "qat" && flags.method != "ptq") {
    std::cerr << "error: --method must be qat or ptq\n";
    return kExitUsage;
  }
  flags.job.method = flags.method == "qat" ? quant::QuantMethod::kQat : quant::QuantMethod::kPtq;
  flags.job.qat.schedule =
      flags.schedule == "step" ? quant::LrSchedule::kStep : quant::LrSchedule::kCosine;
  const absl::StatusOr<quant::QatOptimizer> optimizer = quant::ParseQatOptimizer(flags.optimizer);
  if (!optimizer.ok()) {
    std::cerr << "error: --optimizer: " << optimizer.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.qat.optimizer = *optimizer;
  const absl::StatusOr<quant::RoundingLayers> rounding =
      quant::ParseRoundingLayers(flags.learned_rounding);
  if (!rounding.ok()) {
    std::cerr << "error: --learn-rounding: " << rounding.status().message() << "\n";
    return kExitUsage;
  }
  flags.job.qat.learned_rounding = *rounding;
  // One declaration flag for both user-supplied sources.
  flags.job.generator_declared_synthetic = flags.job.folder_declared_synthetic;
  ResolveOfflineDefaults(flags.job);

  ProgressLine progress;
  const absl::StatusOr<quant::QuantizeJobResult> result =
      quant::RunQuantizeJob(flags.job, [&](const quant::JobProgress& p) { progress.Update(p); });
  progress.Finish();
  if (!result.ok()) {
    std::cerr << "error: " << absl::StatusCodeToString(result.status().code()) << ": "
              << result.status().message() << "\n";
    return kExitRpcError;
  }
  const nlohmann::json& report = result->report;
  std::cout << absl::StrFormat(
      "%s %s %s on %s%s: %.1f s (synthetic data %.1f s%s, training %.1f s)\n", flags.job.teacher,
      report["bits"].get<std::string>(), flags.method, flags.job.source,
      report["synthetic"]["spec"].contains("augmentation") ? " (augmented)" : "",
      report["seconds"].get<double>(), report["synthetic"]["seconds"].get<double>(),
      report["synthetic"]["cache_hit"].get<bool>() ? ", cached" : "",
      report["training"]["seconds"].get<double>());
  if (report["training"].contains("quantization_drop")) {
    std::cout << absl::StrFormat(
        "quantization drop: each activation element kept in full precision with probability "
        "%.2f in training steps\n",
        report["training"]["quantization_drop"]["probability"].get<double>());
  }
  if (report["training"].contains("oscillations")) {
    const nlohmann::json& oscillations = report["training"]["oscillations"];
    const auto counts = [](const nlohmann::json& c) {
      return absl::StrFormat("%d of %d weights oscillating, %d frozen",
                             c["oscillating"].get<int64_t>(), c["weights"].get<int64_t>(),
                             c["frozen"].get<int64_t>());
    };
    std::cout << "weights under 8 bits at the last step: " << counts(oscillations["all"]);
    if (oscillations.contains("depthwise")) {
      std::cout << "; depthwise convs: " << counts(oscillations["depthwise"]);
    }
    std::cout << "\n";
  }
  if (report["training"].contains("learned_rounding") &&
      report["training"]["learned_rounding"].contains("decisions")) {
    const nlohmann::json& rounding = report["training"]["learned_rounding"];
    const nlohmann::json& all = rounding["decisions"]["all"];
    std::cout << absl::StrFormat(
        "learned rounding, decided at step %d: %d of %d weights rounded away from the nearest "
        "level; %d were still between levels when decided\n",
        rounding["decided_at_step"].get<int64_t>(), all["away_from_nearest"].get<int64_t>(),
        all["weights"].get<int64_t>(), all["soft_when_decided"].get<int64_t>());
  }
  if (report.contains("synthetic_eval")) {
    const nlohmann::json& eval = report["synthetic_eval"];
    std::cout << absl::StrFormat(
        "mean teacher-student cosine on synthetic images (fake quant): %.4f on %d %s",
        eval["training"]["mean_teacher_student_cosine"].get<double>(),
        eval["training"]["images"].get<int64_t>(),
        eval["training"].contains("new_images") ? "new images of the training source"
                                                : "training images");
    if (eval.contains("held_out")) {
      std::cout << absl::StrFormat(", %.4f on %d held-out images (seed %d, %.1f s%s)",
                                   eval["held_out"]["mean_teacher_student_cosine"].get<double>(),
                                   eval["held_out"]["images"].get<int64_t>(),
                                   eval["held_out"]["seed"].get<uint64_t>(),
                                   eval["held_out"]["seconds"].get<double>(),
                                   eval["held_out"]["cache_hit"].get<bool>() ? ", cached" : "");
    }
    std::cout << "\n";
  }
  if (result->lfw.has_value()) {
    const quant::StudentLfwReport& lfw = *result->lfw;
    std::vector<std::pair<std::string, const eval::VerificationMetrics*>> rows = {
        {"teacher", &lfw.teacher},
        {"student " + flags.bits + " fake-quant", &lfw.student},
        {"cross (teacher vs student)", &lfw.cross}};
    if (result->lfw_integer.has_value()) {
      const quant::IntegerLfwReport& integer = *result->lfw_integer;
      rows.push_back(
          {"student " + flags.bits + " integer (" + integer.engine + ")", &integer.lfw.student});
      rows.push_back({"cross (teacher vs integer)", &integer.lfw.cross});
    }
    std::cout << eval::FormatComparisonTable(rows)
              << absl::StrFormat("mean teacher-student cosine: %.4f  (LFW eval %.1f s)\n",
                                 lfw.mean_teacher_student_cosine, lfw.seconds);
    if (result->lfw_integer.has_value()) {
      std::cout << absl::StrFormat(
          "mean teacher-integer cosine: %.4f  (LFW eval %.1f s; the served forward)\n",
          result->lfw_integer->lfw.mean_teacher_student_cosine, result->lfw_integer->lfw.seconds);
    }
    if (result->lfw_all_pairs.has_value()) {
      const quant::StudentAllPairsReport& all_pairs = *result->lfw_all_pairs;
      const std::string name = "student " + flags.bits + " " + all_pairs.forward;
      if (all_pairs.with_teacher.has_value()) {
        std::cout << eval::FormatLfwAllPairsComparison(*all_pairs.with_teacher, name, "teacher")
                  << absl::StrFormat("(the teacher embedded %d of the images, the rest cached)\n",
                                     all_pairs.teacher_images_embedded);
      } else {
        std::cout << eval::FormatLfwAllPairsResult(all_pairs.result, name);
      }
    }
  }
  if (!flags.out.empty()) {
    const absl::Status written =
        quant::WritePackedModel(flags.out, *result->student, *result->hooks, report);
    if (!written.ok()) {
      std::cerr << "error: " << written.message() << "\n";
      return kExitRpcError;
    }
    const auto size = std::filesystem::file_size(flags.out);
    const uint64_t float_bytes = quant::Float32Bytes(*result->teacher);
    std::cout << absl::StrFormat("model: %s, %d bytes (float32 teacher %d bytes, %.2fx smaller)\n",
                                 flags.out, size, float_bytes,
                                 static_cast<double>(float_bytes) / static_cast<double>(size));
  }
  if (!flags.report.empty()) {
    std::ofstream out(flags.report);
    out << report.dump(2) << "\n";
    if (!out) {
      std::cerr << "error: cannot write " << flags.report << "\n";
      return kExitRpcError;
    }
    std::cout << "report: " << flags.report << "\n";
  }
  return kExitOk;
}

int RunSynthExport(quant::QuantizeJobConfig job, const std::string& out_dir) {
  ResolveOfflineDefaults(job);
  const bool cuda = job.allow_cuda && torch::cuda::is_available();
  if (!cuda) torch::set_num_threads(job.threads);
  const absl::StatusOr<std::shared_ptr<nn::Backbone>> teacher =
      nn::LoadBuiltinModel(job.teacher, job.asset_dir);
  if (!teacher.ok()) {
    std::cerr << "error: " << teacher.status().message() << "\n";
    return kExitUsage;
  }
  const auto start = std::chrono::steady_clock::now();
  ProgressLine progress;
  const absl::StatusOr<quant::GeneratedSet> set = quant::GetOrGenerateSet(
      job, **teacher, cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU),
      [&](const quant::JobProgress& p) { progress.Update(p); });
  progress.Finish();
  if (!set.ok()) {
    std::cerr << "error: " << absl::StatusCodeToString(set.status().code()) << ": "
              << set.status().message() << "\n";
    return set.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitRpcError;
  }
  const absl::StatusOr<std::vector<cv::Mat>> crops =
      image::TensorToCrops(set->images, (*teacher)->spec().input);
  if (!crops.ok()) {
    std::cerr << "error: " << crops.status().message() << "\n";
    return kExitRpcError;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  // Named by teacher, source and seed, so that several sets can share a
  // folder (a larger --source folder set); rerunning overwrites the same files.
  const std::string prefix = absl::StrFormat("%s-%s-s%d", job.teacher, job.source, job.seed);
  for (std::size_t i = 0; i < crops->size(); ++i) {
    const std::string path =
        (std::filesystem::path(out_dir) / absl::StrFormat("%s-%05d.png", prefix, i)).string();
    if (!cv::imwrite(path, (*crops)[i])) {
      std::cerr << "error: cannot write " << path << "\n";
      return kExitRpcError;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << absl::StrFormat(
      "%d images of %s, seed %d (%s, %.1f s) -> %s/%s-*.png\n", crops->size(), job.source, job.seed,
      set->cache_hit ? "from the cache" : "generated", seconds, out_dir, prefix);
  return kExitOk;
}

void AddSynthExportCommand(CLI::App& app, int& exit_status) {
  auto job = std::make_shared<quant::QuantizeJobConfig>();
  job->asset_dir = ".cache/assets";
  job->cache_dir = ".cache/synthetic";
  job->source = "inverted-faces";
  auto out_dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "synth-export",
      "Write the synthetic set a quantize job with the same flags trains on as PNG files "
      "(generated and cached if new), to look at or to reuse as a --source folder set");
  AddGenerationOptions(*cmd, *job);
  cmd->add_option("--source", job->source, "builtin or inverted-faces")->capture_default_str();
  cmd->add_option("--out", *out_dir, "Folder for the PNG files (created if missing)")->required();
  cmd->callback([job, out_dir, &exit_status] { exit_status = RunSynthExport(*job, *out_dir); });
}

}  // namespace

void AddQuantizeCommands(CLI::App& app, CliContext& /*context*/, int& exit_status) {
  auto flags = std::make_shared<QuantizeFlags>();
  flags->job.asset_dir = ".cache/assets";
  flags->job.cache_dir = ".cache/synthetic";
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Quantize a built-in model offline (QAT or PTQ on synthetic data), no server");
  quant::QuantizeJobConfig& job = flags->job;
  AddGenerationOptions(*cmd, job);
  cmd->add_option("--bits", flags->bits, "Bit widths w<W>a<A>, 2..8 each")->capture_default_str();
  cmd->add_flag("--keep-first-last-8bit", job.keep_first_last_8bit,
                "Keep the first and last layer at 8 bits (symmetric weights)");
  cmd->add_flag("--keep-depthwise-8bit", job.keep_depthwise_8bit,
                "Keep depthwise convs' weights at 8 bits (under 2 % of faceres' weights)");
  cmd->add_flag("--keep-adds-8bit", job.keep_add_operands_8bit,
                "Keep residual-add operands at 8 bits, conv inputs at the activation bits "
                "(dlib-resnet; not the paper's method)");
  cmd->add_flag("--keep-residual-8bit", job.keep_residual_operands_8bit,
                "Keep each residual add's branch operand (the conv output) at 8 bits, its "
                "shortcut at the activation bits: the paper's code quantizes a block's output "
                "after the add, not the branch before it (dlib-resnet)");
  cmd->add_option("--keep-8bit-layers", job.keep_8bit_layers,
                  "Comma-separated conv/linear layer names kept at 8 bits, weights and input "
                  "(e.g. conv_dw_1; names in the report's quantization.layers)")
      ->delimiter(',');
  cmd->add_option("--weight-scheme", flags->weight_scheme,
                  "Weight grid per channel: asymmetric (min/max, the paper; 8-bit weights then "
                  "run on the slow QNNPACK), symmetric (max|w|, runs on oneDNN) or auto "
                  "(asymmetric below 8 bits, symmetric at 8)")
      ->capture_default_str();
  cmd->add_option("--activation-ranges", flags->activation_ranges,
                  "Activation ranges from batch min/max (minmax, the paper) or clipped to the "
                  "least-squared-error range (mse; better at 4 bits)")
      ->capture_default_str();
  cmd->add_option("--weight-ranges", flags->weight_ranges,
                  "Weight range per channel from min/max (minmax, the paper) or clipped to the "
                  "least-squared-error range (mse; better at 4-bit weights)")
      ->capture_default_str();
  cmd->add_option("--method", flags->method, "qat or ptq")->capture_default_str();
  cmd->add_option("--source", job.source,
                  "Training data: noise, procedural (rendered faces), builtin (teacher inversion), "
                  "inverted-faces (inversion from rendered faces), folder or generator")
      ->capture_default_str();
  cmd->add_option("--folder", job.folder, "Folder of synthetic face crops (--source folder)");
  cmd->add_option("--generator", job.generator_path,
                  "TorchScript generator, latents -> images in [-1, 1] (--source generator)");
  cmd->add_option("--latent-dim", job.generator_latent_dim,
                  "Generator latent size (0: the module's latent_dim attribute)")
      ->capture_default_str();
  cmd->add_flag("--declare-synthetic", job.folder_declared_synthetic,
                "Declare that every image in --folder, or from --generator, is synthetic (no "
                "real person)");
  cmd->add_flag_function(
      "--augment",
      [flags](std::int64_t) {
        // The view bounds only: --blend, --color-jitter and --downscale are options of
        // their own.
        const synth::SetAugmentation views = synth::FaceViewAugmentation();
        synth::SetAugmentation& augmentation = flags->job.augmentation;
        augmentation.max_shift = views.max_shift;
        augmentation.max_zoom = views.max_zoom;
        augmentation.max_rotation_degrees = views.max_rotation_degrees;
      },
      "Builtin, inverted-faces and folder sets: show each image from a random nearby view "
      "(+-6 % shift, +-8 % zoom, +-8 degrees; not the paper's method)");
  cmd->add_option("--blend", job.augmentation.max_blend,
                  "Builtin, inverted-faces and folder sets: blend each image with another of its "
                  "batch, the other's weight uniform in [0, B] (face morphs: more inputs to "
                  "distill on; not the paper's method); 0 = off")
      ->check(CLI::Range(0.0, synth::SetAugmentation::kMaxBlend))
      ->capture_default_str();
  cmd->add_option("--color-jitter", job.augmentation.max_color_jitter,
                  "Builtin, inverted-faces and folder sets: recolour each image, each channel's "
                  "contrast scaled by [1 - J, 1 + J] and its mean moved by [-J, J] of its spread "
                  "(not the paper's method); 0 = off")
      ->check(CLI::Range(0.0, synth::SetAugmentation::kMaxColorJitter))
      ->capture_default_str();
  cmd->add_option("--downscale", job.augmentation.max_downscale,
                  "Builtin, inverted-faces and folder sets: show each image at a lower "
                  "resolution, shrunk by a factor uniform in [1, D] and enlarged back (real "
                  "crops are often enlarged from small faces; not the paper's method); 1 = off")
      ->check(CLI::Range(1.0, synth::SetAugmentation::kMaxDownscale))
      ->capture_default_str();
  cmd->add_option("--init-student", job.init_student_path,
                  "Start from the weights of this packed student (.qfp) of the same teacher "
                  "instead of the teacher's, e.g. w4a4 from a w4a8 student (not the paper's "
                  "method)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--equalize-residual", job.residual_stream_equalization,
                  "dlib-resnet: even out the residual stream's channels before quantizing, at "
                  "this strength (0: off, 1: full; same function, per-tensor grids shared more "
                  "evenly; not the paper's method)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--steps", job.qat.steps, "QAT steps")->capture_default_str();
  cmd->add_option("--batch-size", job.qat.batch_size, "QAT batch size")->capture_default_str();
  cmd->add_option("--lr", job.qat.learning_rate,
                  "Learning rate (0: 0.1 * batch / 512 for sgd, 1e-4 for adam)")
      ->capture_default_str();
  cmd->add_option("--optimizer", flags->optimizer,
                  "QAT: sgd (the paper's, Nesterov momentum) or adam (AdamW; not the paper's)")
      ->capture_default_str();
  cmd->add_option("--schedule", flags->schedule, "cosine or step")->capture_default_str();
  // The job API's optimizer.weight_decay, offline. Why one would change it:
  // the paper's 5e-4 pulls the student's weights toward zero, away from the
  // teacher they copy (docs/BENCHMARKS.md, session 19, measures 0 against it).
  cmd->add_option("--weight-decay", job.qat.weight_decay,
                  "QAT weight decay (sgd: L2 in the gradient; adam: decoupled); 0 turns it off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--warmup-steps", job.qat.warmup_steps, "Steps tracking activation ranges")
      ->capture_default_str();
  cmd->add_flag("--learn-activation-ranges", job.qat.learn_activation_ranges,
                "QAT: learn activation scales (LSQ) after the warm-up instead of freezing them "
                "(not the paper's method; helps at 4 bits)");
  cmd->add_flag("--learn-weight-ranges", job.qat.learn_weight_ranges,
                "QAT: learn each layer's per-channel weight scales (LSQ) after the warm-up instead "
                "of following the weights' ranges (not the paper's method; lower training loss "
                "but no better on LFW so far, docs/BENCHMARKS.md)");
  cmd->add_option("--freeze-oscillations", job.qat.oscillation_freeze_threshold,
                  "QAT: freeze weights whose integer value oscillates more often than this "
                  "frequency at the end (the threshold starts 10x higher; iterative weight "
                  "freezing, Nagel et al. 2022; not the paper's method); 0 = off")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.0999));
  cmd->add_option("--quantization-drop", job.qat.quantization_drop,
                  "QAT: in each training step, keep each activation element in full precision "
                  "with this probability instead of quantizing it (QDrop, Wei et al. 2022; not "
                  "the paper's method); 0 = off")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95));
  cmd->add_option("--learn-rounding", flags->learned_rounding,
                  "QAT: learn whether each weight rounds up or down (AdaRound's soft rounding, "
                  "trained by the QAT loss; not the paper's method) in these layers under 8 bits: "
                  "none, depthwise or all")
      ->capture_default_str();
  cmd->add_option("--rounding-lr", job.qat.rounding_learning_rate,
                  "QAT with --learn-rounding: Adam's learning rate for the rounding logits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rounding-share", job.qat.rounding_share,
                  "QAT with --learn-rounding: share of the steps after the warm-up that learn "
                  "the rounding; the rest train against the decided weights")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  cmd->add_option("--rounding-reg", job.qat.rounding_regularization,
                  "QAT with --learn-rounding: weight of the regularizer that pushes every "
                  "rounding to a decision")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--feature-loss-weight", job.qat.feature_loss_weight,
                  "QAT: add this weight times the features' relative squared error (every "
                  "quantized activation, student vs teacher) to the loss; 0 = the paper's "
                  "embedding loss only")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--pair-loss-weight", job.qat.pair_loss_weight,
                  "QAT: add this weight times the squared error of the batch's pairwise "
                  "embedding cosines (student vs teacher) to the loss; 0 = the paper's "
                  "embedding loss only")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--calib-images", job.ptq.num_images, "PTQ calibration images")
      ->capture_default_str();
  auto* eval_lfw =
      cmd->add_option("--eval-lfw", job.lfw_dir, "LFW directory: evaluate teacher, student, cross");
  cmd->add_flag("--lfw-flip", job.lfw_flip, "Flip-averaged embeddings in the LFW evaluation");
  cmd->add_option("--eval-synthetic", job.synthetic_eval_images,
                  "After training: mean teacher-student embedding cosine on this many synthetic "
                  "images, of the training set and (builtin, inverted-faces) of a held-out set "
                  "generated alike with seed + 1000, to set next to LFW's (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--eval-all-pairs", job.lfw_all_pairs,
                "With --eval-lfw: also score every pair of LFW images on the student as served "
                "(thresholds down to FAR 1e-6)")
      ->needs(eval_lfw);
  cmd->add_option("--eval-all-pairs-max-people", job.lfw_all_pairs_max_people,
                  "The first N people of people.txt only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", flags->out, "Write the packed low-bit model here");
  cmd->add_option("--report", flags->report, "Write the job report (JSON) here");
  cmd->callback([flags, &exit_status] { exit_status = RunQuantize(*flags); });
  AddSynthExportCommand(app, exit_status);
}

}  // namespace qf::cli
