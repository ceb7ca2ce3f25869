#include "bench/quant/all_pairs.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "client/cli_context.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/verification_report.h"
#include "core/image/decoder.h"
#include "core/match/face_embedder.h"
#include "core/match/lfw_embed_fn.h"
#include "core/nn/model_zoo.h"
#include "core/quant/served_student.h"

namespace qf::bench {
namespace {

struct AllPairsArgs {
  std::string lfw_dir;
  std::string teacher;
  std::string model;
  bool fake_quant = false;
  std::string asset_dir = ".cache/assets";
  int max_images_per_person = 10;
  int max_people = 0;
  int threads = 2;
  int batch = 32;
  std::vector<double> far_targets = {1e-2, 1e-3, 1e-4, 1e-5};
  std::vector<double> thresholds;
  int top_impostors = 0;
  std::string report;
};

// The model to embed with and its name in the table and report.
struct NamedModel {
  std::shared_ptr<nn::Backbone> backbone;
  std::string name;
  std::string forward;  // "float32", "integer (<engine>)" or "fake-quant".
};

absl::StatusOr<NamedModel> LoadModel(const AllPairsArgs& args) {
  if (!args.teacher.empty()) {
    auto model = nn::LoadBuiltinModel(args.teacher, args.asset_dir);
    if (!model.ok()) return model.status();
    return NamedModel{*std::move(model), args.teacher, "float32"};
  }
  auto student = quant::LoadServedStudent(args.model, /*integer=*/!args.fake_quant);
  if (!student.ok()) return student.status();
  if (!student->fallback_reason.empty()) {
    std::cerr << "no integer forward (" << student->fallback_reason
              << "); scoring the fake-quant simulation, as the server would serve it\n";
  }
  return NamedModel{student->backbone, args.model, student->forward};
}

int RunAllPairs(const AllPairsArgs& args) {
  torch::set_num_threads(args.threads);
  auto dataset = eval::LoadLfwDataset(args.lfw_dir, {.check_images = false});
  if (!dataset.ok()) {
    std::cerr << "error: " << dataset.status() << "\n";
    return cli::kExitRpcError;
  }
  auto model = LoadModel(args);
  if (!model.ok()) {
    std::cerr << "error: " << model.status() << "\n";
    return cli::kExitRpcError;
  }
  const match::FaceEmbedder embedder(model->backbone, nullptr, {.max_batch_size = args.batch});
  const image::Decoder decoder;
  eval::LfwAllPairsOptions options;
  options.max_images_per_person = args.max_images_per_person;
  options.max_people = args.max_people;
  options.batch_size = args.batch;
  options.far_targets = args.far_targets;
  options.thresholds = args.thresholds;
  options.top_impostors = args.top_impostors;
  const auto start = std::chrono::steady_clock::now();
  options.progress = [&](std::size_t done, std::size_t total) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cerr << absl::StrFormat("\rembedded %d/%d images, %.0f img/s   ", done, total,
                                 done / std::max(elapsed.count(), 1e-9))
              << std::flush;
  };
  auto result = eval::RunLfwAllPairs(*dataset, match::MakeFileEmbedFn(embedder, decoder), options);
  std::cerr << "\n";
  if (!result.ok()) {
    std::cerr << "error: " << result.status() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? cli::kExitUsage
                                                                        : cli::kExitRpcError;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string title = model->name + ", " + model->forward;
  std::cout << eval::FormatLfwAllPairsResult(*result, title)
            << absl::StrFormat("%.1f s with %d threads\n", seconds, args.threads);
  if (!args.report.empty()) {
    nlohmann::json report = eval::LfwAllPairsResultToJson(*result);
    report["model"] = model->name;
    report["forward"] = model->forward;
    report["threads"] = args.threads;
    report["seconds"] = seconds;
    std::ofstream out(args.report);
    out << report.dump(2) << "\n";
    if (!out) {
      std::cerr << "error: cannot write " << args.report << "\n";
      return cli::kExitRpcError;
    }
    std::cout << "report: " << args.report << "\n";
  }
  return cli::kExitOk;
}

}  // namespace

void AddAllPairsCommand(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<AllPairsArgs>();
  CLI::App* command = app.add_subcommand(
      "all-pairs", "LFW TAR at low FARs over every pair of images (10 per person at most)");
  command->add_option("--lfw", args->lfw_dir, "LFW directory (people.txt, landmarks5.tsv)")
      ->required()
      ->check(CLI::ExistingDirectory);
  auto* teacher = command->add_option("--teacher", args->teacher, "Built-in model (float32)");
  auto* model = command->add_option("--model", args->model, "Packed student (.qfp)")
                    ->check(CLI::ExistingFile);
  teacher->excludes(model);
  command
      ->add_flag("--fake-quant", args->fake_quant,
                 "Run the student's fake-quant simulation, not its integer forward")
      ->needs(model);
  command->add_option("--asset-dir", args->asset_dir, "Built-in model weights")
      ->envname("QUANTFACE_ASSET_DIR")
      ->capture_default_str();
  command->add_option("--max-images-per-person", args->max_images_per_person)
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  command->add_option("--max-people", args->max_people, "The first N people only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--threads", args->threads)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--batch", args->batch)->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--far", args->far_targets, "FAR targets, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1.0));
  command
      ->add_option("--threshold", args->thresholds,
                   "Also report TAR and FAR at these thresholds, comma-separated")
      ->delimiter(',');
  command
      ->add_option("--top-impostors", args->top_impostors,
                   "Also list the N highest-scoring impostor pairs")
      ->check(CLI::Range(0, 100000));
  command->add_option("--report", args->report, "Also write a JSON report");
  command->callback([args, &exit_status, teacher, model] {
    if (teacher->count() == 0 && model->count() == 0) {
      std::cerr << "all-pairs: give --teacher NAME or --model FILE.qfp\n";
      exit_status = cli::kExitUsage;
      return;
    }
    exit_status = RunAllPairs(*args);
  });
}

}  // namespace qf::bench
