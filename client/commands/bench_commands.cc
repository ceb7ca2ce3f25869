// `quantface bench lfw`: the LFW verification benchmark, run locally through
// qf_core (no server), printing the table and writing a JSON report and a ROC
// curve image.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/commands/commands.h"
#include "core/detect/dlib_face_detector.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/lfw_verification.h"
#include "core/eval/roc_plot.h"
#include "core/eval/verification_report.h"
#include "core/match/face_embedder.h"
#include "core/match/lfw_embed_fn.h"
#include "core/nn/model_zoo.h"
#include "core/quant/served_student.h"

namespace qf::cli {
namespace {

struct LfwOptions {
  std::string data;
  std::string model = nn::DefaultBuiltinModelName();
  std::string model_file;   // A packed student instead of a built-in model.
  bool fake_quant = false;  // Its fake-quant simulation, not its served forward.
  std::string asset_dir = ".cache/assets";
  std::string protocol = "view2";
  std::string landmarks = "given";
  bool flip = false;
  int threads = 0;
  int batch_size = 32;
  std::string report;
  std::string roc;
  // all-pairs only.
  int max_images_per_person = 10;
  int max_people = 0;
  std::vector<double> far_targets = {1e-2, 1e-3, 1e-4, 1e-5};
  std::vector<double> thresholds;
  int top_impostors = 0;
  std::string teacher;                  // With model_file: a built-in to compare the student with.
  bool all_pairs_option_given = false;  // Any of the six above, on the command line.
};

// The model's name in tables and reports: the built-in's, or the student's file.
std::string ModelName(const LfwOptions& o) { return o.model_file.empty() ? o.model : o.model_file; }

std::string DefaultReportStem(const LfwOptions& o) {
  const std::string model =
      o.model_file.empty() ? o.model : std::filesystem::path(o.model_file).stem().string();
  return std::string("reports/lfw-") + (o.protocol == "all-pairs" ? "all-pairs-" : "") + model +
         "-" + o.landmarks + (o.flip ? "-flip" : "");
}

std::function<void(std::size_t, std::size_t)> ProgressLine(
    std::chrono::steady_clock::time_point start) {
  return [start](std::size_t done, std::size_t total) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cerr << "\rembedded " << done << "/" << total << " images, "
              << static_cast<int>(done / std::max(elapsed.count(), 1e-9)) << " img/s   "
              << std::flush;
  };
}

// Creates the report's folder and writes it; false when it cannot.
bool WriteReport(const std::string& path, const nlohmann::json& report) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ignored;
  if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  return static_cast<bool>(out);
}

// Every pair of LFW images (core/eval/lfw_all_pairs.h): thresholds at low
// FARs that View 2's 3,000 impostor pairs cannot measure.
// With a teacher embedder (--teacher), the teacher's rates on the same pairs
// and the rates across the two models join the student's.
int BenchLfwAllPairs(const CliContext& context, const LfwOptions& o,
                     const eval::LfwDataset& dataset, const match::FaceEmbedder& embedder,
                     const match::FaceEmbedder* teacher_embedder, const std::string& forward,
                     int threads) {
  const image::Decoder decoder;
  eval::LfwAllPairsOptions options;
  options.max_images_per_person = o.max_images_per_person;
  options.max_people = o.max_people;
  options.far_targets = o.far_targets;
  options.thresholds = o.thresholds;
  options.top_impostors = o.top_impostors;
  options.batch_size = o.batch_size;
  options.flip = o.flip;
  const auto start = std::chrono::steady_clock::now();
  options.progress = ProgressLine(start);
  const eval::EmbedFn embed = match::MakeFileEmbedFn(embedder, decoder);
  absl::StatusOr<eval::LfwAllPairsComparison> comparison;
  absl::StatusOr<eval::LfwAllPairsResult> result;
  if (teacher_embedder != nullptr) {
    comparison = eval::CompareLfwAllPairs(
        dataset, embed, match::MakeFileEmbedFn(*teacher_embedder, decoder), options);
    result = comparison.ok() ? absl::StatusOr<eval::LfwAllPairsResult>(comparison->model)
                             : comparison.status();
  } else {
    result = eval::RunLfwAllPairs(dataset, embed, options);
  }
  std::cerr << "\n";
  if (!result.ok()) {
    return context.Fail(std::string(result.status().message()),
                        absl::IsInvalidArgument(result.status()) ? kExitUsage : kExitRpcError);
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

  nlohmann::json report = eval::LfwAllPairsResultToJson(*result);
  if (teacher_embedder != nullptr) {
    // The keys of a job's every-pair report (student_all_pairs_eval.h).
    report.update(eval::LfwAllPairsComparisonToJson(*comparison));
    report["teacher"]["model"] = o.teacher;
  }
  report["model"] = ModelName(o);
  report["forward"] = forward;
  report["flip"] = o.flip;
  report["threads"] = threads;
  report["seconds"] = elapsed.count();
  const std::string report_path = o.report.empty() ? DefaultReportStem(o) + ".json" : o.report;
  if (!WriteReport(report_path, report)) {
    return context.Fail("cannot write " + report_path, kExitRpcError);
  }
  if (context.json) {
    std::cout << report.dump() << "\n";
    return kExitOk;
  }
  const std::string name = ModelName(o) + ", " + forward + (o.flip ? ", flip" : "");
  std::cout << (teacher_embedder != nullptr
                    ? eval::FormatLfwAllPairsComparison(*comparison, name, "teacher " + o.teacher)
                    : eval::FormatLfwAllPairsResult(*result, name));
  std::cout << result->tar.num_images << " images in " << elapsed.count() << " s with " << threads
            << " threads\nreport: " << report_path << "\n";
  return kExitOk;
}

// LFW View 2: 10-fold accuracy, ROC and TAR@FAR over its 6,000 pairs.
int BenchLfwView2(const CliContext& context, const LfwOptions& o, const eval::LfwDataset& dataset,
                  const match::FaceEmbedder& embedder, const std::string& forward, int threads) {
  const bool detect = o.landmarks == "detect";
  const image::Decoder decoder;
  eval::LfwVerificationOptions options;
  options.batch_size = o.batch_size;
  options.flip = o.flip;
  options.use_landmarks = !detect;
  const auto start = std::chrono::steady_clock::now();
  options.progress = ProgressLine(start);
  auto result =
      eval::RunLfwVerification(dataset, match::MakeFileEmbedFn(embedder, decoder), options);
  std::cerr << "\n";
  if (!result.ok()) return context.Fail(std::string(result.status().message()), kExitRpcError);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

  nlohmann::json report;
  report["benchmark"] = "lfw";
  report["model"] = ModelName(o);
  report["forward"] = forward;
  report["landmarks"] = o.landmarks;
  report["flip"] = o.flip;
  report["threads"] = threads;
  report["images"] = result->num_images;
  report["embedding_dim"] = result->embedding_dim;
  report["seconds"] = elapsed.count();
  report["metrics"] = eval::VerificationMetricsToJson(result->metrics);

  const std::string stem = DefaultReportStem(o);
  const std::string report_path = o.report.empty() ? stem + ".json" : o.report;
  const std::string roc_path = o.roc.empty() ? stem + ".png" : o.roc;
  if (!WriteReport(report_path, report)) {
    return context.Fail("cannot write " + report_path, kExitRpcError);
  }
  const auto roc_parent = std::filesystem::path(roc_path).parent_path();
  if (!roc_parent.empty()) std::filesystem::create_directories(roc_parent);
  const std::string title = ModelName(o) + ", " + forward + ", on LFW (" + o.landmarks +
                            " landmarks" + (o.flip ? ", flip" : "") + ")";
  eval::RocPlotOptions plot;
  plot.title = title;
  if (auto status = eval::WriteRocPng(roc_path, {{title, &result->metrics.roc}}, plot);
      !status.ok()) {
    return context.Fail(std::string(status.message()), kExitRpcError);
  }
  if (context.json) {
    std::cout << report.dump() << "\n";
  } else {
    std::cout << eval::FormatVerificationTable(result->metrics, title);
    std::cout << result->num_images << " images in " << elapsed.count() << " s with " << threads
              << " threads\nreport: " << report_path << "\nroc: " << roc_path << "\n";
  }
  return kExitOk;
}

int RunLfw(const CliContext& context, const LfwOptions& o) {
  const int threads = o.threads > 0
                          ? o.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  if (o.landmarks != "given" && o.landmarks != "detect") {
    return context.Fail("--landmarks must be given or detect");
  }
  const bool detect = o.landmarks == "detect";
  const bool all_pairs = o.protocol == "all-pairs";
  if (all_pairs && detect) {
    return context.Fail(
        "--protocol all-pairs aligns faces to the dataset's landmarks: "
        "--landmarks detect applies to view2 only");
  }
  if (all_pairs && !o.roc.empty()) return context.Fail("--roc applies to --protocol view2 only");
  if (!all_pairs && o.all_pairs_option_given) {
    return context.Fail(
        "--max-images-per-person, --max-people, --far, --threshold, --top-impostors and --teacher "
        "apply to --protocol all-pairs only");
  }

  auto dataset = eval::LoadLfwDataset(
      o.data, {.load_landmarks = !detect, .load_people = all_pairs, .check_images = !all_pairs});
  if (!dataset.ok()) return context.Fail(std::string(dataset.status().message()), kExitRpcError);
  std::shared_ptr<nn::Backbone> backbone;
  std::string forward = "float32";
  if (o.model_file.empty()) {
    auto model = nn::LoadBuiltinModel(o.model, o.asset_dir);
    if (!model.ok()) return context.Fail(std::string(model.status().message()), kExitRpcError);
    backbone = *std::move(model);
  } else {
    auto student = quant::LoadServedStudent(o.model_file, /*integer=*/!o.fake_quant);
    if (!student.ok()) {
      return context.Fail(std::string(student.status().message()), kExitRpcError);
    }
    if (!student->fallback_reason.empty()) {
      std::cerr << "no integer forward (" << student->fallback_reason
                << "); scoring the fake-quant simulation, as the server would serve it\n";
    }
    backbone = student->backbone;
    forward = student->forward;
  }

  std::shared_ptr<const detect::FaceDetector> detector;
  if (detect) {
    detect::DlibFaceDetector::Options detector_options;
    // LFW images are centred face crops: when HOG finds nothing, fit the
    // landmarks inside the box where faces sit on average.
    detector_options.fallback_box = detect::DlibFaceDetector::LfwCentreBox();
    auto created = detect::DlibFaceDetector::Create(
        detect::DlibFaceDetector::kDefaultShapePredictorPath, detector_options);
    if (!created.ok()) return context.Fail(std::string(created.status().message()), kExitRpcError);
    detector = *std::move(created);
  }
  const match::FaceEmbedder embedder(
      backbone, detector,
      {.max_batch_size = o.batch_size, .face_choice = match::FaceChoice::kMostCentral});
  if (!all_pairs) return BenchLfwView2(context, o, *dataset, embedder, forward, threads);
  std::optional<match::FaceEmbedder> teacher_embedder;
  if (!o.teacher.empty()) {
    auto teacher = nn::LoadBuiltinModel(o.teacher, o.asset_dir);
    if (!teacher.ok()) return context.Fail(std::string(teacher.status().message()), kExitRpcError);
    teacher_embedder.emplace(*std::move(teacher), nullptr,
                             match::EmbedderOptions{.max_batch_size = o.batch_size});
  }
  return BenchLfwAllPairs(context, o, *dataset, embedder,
                          teacher_embedder.has_value() ? &*teacher_embedder : nullptr, forward,
                          threads);
}

}  // namespace

void AddBenchCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* bench = app.add_subcommand("bench", "Benchmarks (lfw: local; identify: over gRPC)");
  bench->require_subcommand(1);
  auto o = std::make_shared<LfwOptions>();
  auto* lfw = bench->add_subcommand(
      "lfw",
      "LFW verification of a built-in model or a packed student: View 2 (10-fold) or every pair "
      "of images");
  lfw->add_option("--data", o->data, "LFW folder (pairs.txt, images/, landmarks5.tsv)")
      ->required()
      ->check(CLI::ExistingDirectory);
  auto* model = lfw->add_option("--model", o->model, "Built-in model")->capture_default_str();
  auto* model_file =
      lfw->add_option("--model-file", o->model_file,
                      "A packed student (.qfp) instead, on its served (integer) forward")
          ->check(CLI::ExistingFile);
  model->excludes(model_file);
  lfw->add_flag("--fake-quant", o->fake_quant,
                "With --model-file: its fake-quant simulation instead of the integer forward")
      ->needs(model_file);
  lfw->add_option("--asset-dir", o->asset_dir, "Model weights from scripts/fetch_assets.sh")
      ->envname("QUANTFACE_ASSET_DIR")
      ->capture_default_str();
  lfw->add_option("--protocol", o->protocol,
                  "view2 (6,000 pairs: accuracy, ROC, TAR@FAR) or all-pairs (every pair of the "
                  "first images of each person: TAR and thresholds at low FARs)")
      ->check(CLI::IsMember({"view2", "all-pairs"}))
      ->capture_default_str();
  lfw->add_option("--landmarks", o->landmarks,
                  "given (the dataset's five points) or detect (our detector; view2 only)")
      ->capture_default_str();
  lfw->add_flag("--flip", o->flip, "Average embeddings of each face and its mirror");
  lfw->add_option("--threads", o->threads, "LibTorch threads (0 = one per core)");
  lfw->add_option("--batch-size", o->batch_size, "Faces per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  lfw->add_option("--report", o->report, "JSON report path (default reports/lfw-...json)");
  lfw->add_option("--roc", o->roc, "ROC curve PNG path (view2; default beside the report)");
  lfw->add_option("--max-images-per-person", o->max_images_per_person,
                  "all-pairs: the first N images of each person")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  lfw->add_option("--max-people", o->max_people, "all-pairs: the first N people only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  lfw->add_option("--far", o->far_targets, "all-pairs: FAR targets, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1.0));
  lfw->add_option("--threshold", o->thresholds,
                  "all-pairs: also report TAR and FAR at these thresholds, comma-separated")
      ->delimiter(',');
  lfw->add_option("--top-impostors", o->top_impostors,
                  "all-pairs: also list the N highest-scoring impostor pairs")
      ->check(CLI::Range(0, 100000));
  lfw->add_option("--teacher", o->teacher,
                  "all-pairs with --model-file: also score this built-in model (the student's "
                  "teacher) on the same pairs, and the pairs across the two (the teacher's "
                  "embedding of the earlier image against the student's of the later one)")
      ->needs(model_file);
  lfw->callback([&context, &exit_status, o, lfw] {
    o->all_pairs_option_given = lfw->count("--max-images-per-person") + lfw->count("--max-people") +
                                    lfw->count("--far") + lfw->count("--threshold") +
                                    lfw->count("--top-impostors") + lfw->count("--teacher") >
                                0;
    exit_status = RunLfw(context, *o);
  });
  AddBenchIdentifyCommand(*bench, context, exit_status);
}

}  // namespace qf::cli
