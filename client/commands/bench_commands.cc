// `quantface bench lfw`: the LFW verification benchmark, run locally through
// qf_core (no server), printing the table and writing a JSON report and a ROC
// curve image.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "client/commands/commands.h"
#include "core/detect/dlib_face_detector.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/lfw_verification.h"
#include "core/eval/roc_plot.h"
#include "core/eval/verification_report.h"
#include "core/match/face_embedder.h"
#include "core/match/lfw_embed_fn.h"
#include "core/nn/model_zoo.h"

namespace qf::cli {
namespace {

struct LfwOptions {
  std::string data;
  std::string model = nn::DefaultBuiltinModelName();
  std::string asset_dir = ".cache/assets";
  std::string landmarks = "given";
  bool flip = false;
  int threads = 0;
  int batch_size = 32;
  std::string report;
  std::string roc;
};

std::string DefaultReportStem(const LfwOptions& o) {
  return "reports/lfw-" + o.model + "-" + o.landmarks + (o.flip ? "-flip" : "");
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

  auto dataset = eval::LoadLfwDataset(o.data, {.load_landmarks = !detect, .load_people = false});
  if (!dataset.ok()) return context.Fail(std::string(dataset.status().message()), kExitRpcError);
  auto model = nn::LoadBuiltinModel(o.model, o.asset_dir);
  if (!model.ok()) return context.Fail(std::string(model.status().message()), kExitRpcError);

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
  match::FaceEmbedder embedder(
      *model, detector,
      {.max_batch_size = o.batch_size, .face_choice = match::FaceChoice::kMostCentral});
  const image::Decoder decoder;

  eval::LfwVerificationOptions options;
  options.batch_size = o.batch_size;
  options.flip = o.flip;
  options.use_landmarks = !detect;
  const auto start = std::chrono::steady_clock::now();
  options.progress = [&](std::size_t done, std::size_t total) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cerr << "\rembedded " << done << "/" << total << " images, "
              << static_cast<int>(done / std::max(elapsed.count(), 1e-9)) << " img/s   "
              << std::flush;
  };
  auto result =
      eval::RunLfwVerification(*dataset, match::MakeFileEmbedFn(embedder, decoder), options);
  std::cerr << "\n";
  if (!result.ok()) return context.Fail(std::string(result.status().message()), kExitRpcError);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

  nlohmann::json report;
  report["benchmark"] = "lfw";
  report["model"] = o.model;
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
  for (const std::string& path : {report_path, roc_path}) {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  std::ofstream(report_path) << report.dump(2) << "\n";
  const std::string title =
      o.model + " on LFW (" + o.landmarks + " landmarks" + (o.flip ? ", flip" : "") + ")";
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

}  // namespace

void AddBenchCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* bench = app.add_subcommand("bench", "Benchmarks (lfw: local; identify: over gRPC)");
  bench->require_subcommand(1);
  auto o = std::make_shared<LfwOptions>();
  auto* lfw = bench->add_subcommand("lfw", "LFW 10-fold verification of a built-in model");
  lfw->add_option("--data", o->data, "LFW folder (pairs.txt, images/, landmarks5.tsv)")
      ->required()
      ->check(CLI::ExistingDirectory);
  lfw->add_option("--model", o->model, "Built-in model")->capture_default_str();
  lfw->add_option("--asset-dir", o->asset_dir, "Model weights from scripts/fetch_assets.sh")
      ->envname("QUANTFACE_ASSET_DIR")
      ->capture_default_str();
  lfw->add_option("--landmarks", o->landmarks,
                  "given (the dataset's five points) or detect (our detector)")
      ->capture_default_str();
  lfw->add_flag("--flip", o->flip, "Average embeddings of each face and its mirror");
  lfw->add_option("--threads", o->threads, "LibTorch threads (0 = one per core)");
  lfw->add_option("--batch-size", o->batch_size, "Faces per forward pass")->capture_default_str();
  lfw->add_option("--report", o->report, "JSON report path (default reports/lfw-...json)");
  lfw->add_option("--roc", o->roc, "ROC curve PNG path (default beside the report)");
  lfw->callback([&context, &exit_status, o] { exit_status = RunLfw(context, *o); });
  AddBenchIdentifyCommand(*bench, context, exit_status);
}

}  // namespace qf::cli
