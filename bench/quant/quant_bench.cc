// quant_bench: offline quantization jobs and integer-inference benchmarks,
// linked against qf_core only (no gRPC client).
//   quant_bench quantize ...   same flags as `quantface quantize`
//   quant_bench speed --model FILE.qfp [--threads 2] [--batches 1,32]
//                     [--trace PREFIX]
//       float32 vs integer (int8 kernels) throughput; --trace also writes
//       PREFIX-b<batch>-{float32,int8}.json, a chrome://tracing profile of one
//       pass each (per-op times; bench/quant/trace_summary.py sums them)
//   quant_bench int8-lfw --model FILE.qfp --lfw DIR [--batch 32] [--layers]
//       LFW of the fake-quant model vs the integer model (cosine, accuracy);
//       --layers also compares their quantized activations site by site
//   quant_bench all-pairs --lfw DIR (--teacher NAME | --model FILE.qfp [--fake-quant])
//       LFW TAR at low FARs over every pair of images (bench/quant/all_pairs.h)
//   quant_bench weight-sensitivity --teacher NAME --weight-bits 4 [--images 64]
//       per conv/linear layer, how far the embeddings of rendered faces move
//       from the teacher's when only that layer's weights drop to the given
//       bits, and when every layer but that one does (activations at 8)
//   quant_bench activation-sensitivity --teacher NAME --activation-bits 4 [--images 32]
//       per quantized activation (conv/linear input, residual-add operand),
//       the same with only that site (or all but it) at the given bits
//   quant_bench synth-preview --teacher NAME --source procedural|noise|builtin|inverted-faces
//                             --out FILE.png
//       a contact sheet of a synthetic source's images, and how spread out
//       the teacher's embeddings of them are
#include <torch/csrc/autograd/profiler_legacy.h>
#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/quant/all_pairs.h"
#include "bench/quant/channel_ranges.h"
#include "bench/quant/sensitivity.h"
#include "client/cli_context.h"
#include "client/commands/commands.h"
#include "core/eval/embedding_spread.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/verification_report.h"
#include "core/image/tensor_conversion.h"
#include "core/nn/model_zoo.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/int8_backbone.h"
#include "core/quant/int8_model.h"
#include "core/quant/lfw_student_eval.h"
#include "core/quant/packed_model.h"
#include "core/synth/inversion_generator.h"
#include "core/synth/noise_source.h"
#include "core/synth/procedural_face_source.h"

namespace {

using qf::quant::Int8Backbone;
using qf::quant::Int8Model;
using qf::quant::PackedModel;

// Seconds of one call of fn.
template <typename Fn>
double SecondsOf(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int Speed(const std::string& path, int threads, const std::vector<int64_t>& batches, int rounds,
          const std::string& trace_prefix) {
  torch::set_num_threads(threads);
  absl::StatusOr<PackedModel> packed = qf::quant::LoadPackedModel(path);
  if (!packed.ok()) {
    std::cerr << "error: " << packed.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Int8Model>> int8 = Int8Model::Create(*packed);
  if (!int8.ok()) {
    std::cerr << "error: " << int8.status() << "\n";
    return 1;
  }
  qf::nn::Backbone& model = *packed->model;
  const int size = model.spec().input.size;
  std::cout << absl::StrFormat("%s %s, engine %s, %d threads, file %d bytes (float32 %d bytes)\n",
                               model.spec().architecture, packed->header["bits"].get<std::string>(),
                               (*int8)->engine(), threads, packed->file_bytes,
                               qf::quant::Float32Bytes(model));
  torch::NoGradGuard no_grad;
  // Rounds alternate one float32 and one integer pass, so that both see the
  // same machine load; the ratio is the median of the per-round ratios.
  for (const int64_t batch : batches) {
    const torch::Tensor input = torch::randn({batch, 3, size, size}) * 0.25;
    qf::quant::FakeQuantHooks::Detach(model);  // Plain float32 forward.
    const auto fp32_pass = [&] { model.forward(input); };
    const auto int8_pass = [&] { (void)(*int8)->Embed(input); };
    fp32_pass();  // Warm-up (packing caches, allocator).
    // The warm-up pass must succeed: a failing integer pass returns early and
    // would be timed as a fast one.
    if (const absl::StatusOr<torch::Tensor> first = (*int8)->Embed(input); !first.ok()) {
      std::cerr << "error: " << first.status() << "\n";
      return 1;
    }
    std::vector<double> fp32_seconds, int8_seconds, ratios;
    for (int round = 0; round < rounds; ++round) {
      fp32_seconds.push_back(SecondsOf(fp32_pass));
      int8_seconds.push_back(SecondsOf(int8_pass));
      ratios.push_back(fp32_seconds.back() / int8_seconds.back());
    }
    std::cout << absl::StrFormat(
        "batch %3d: float32 %8.1f img/s  int8 %8.1f img/s  speedup %.2fx (medians of %d rounds)\n",
        batch, batch / Median(fp32_seconds), batch / Median(int8_seconds), Median(ratios), rounds);
    if (!trace_prefix.empty()) {
      // Profiled passes come after the timed rounds: the profiler's overhead
      // must not touch the numbers above.
      const std::string stem = absl::StrFormat("%s-b%d-", trace_prefix, batch);
      {
        torch::autograd::profiler::RecordProfile guard(stem + "float32.json");
        fp32_pass();
      }
      {
        torch::autograd::profiler::RecordProfile guard(stem + "int8.json");
        int8_pass();
      }
      std::cout << "traces: " << stem << "{float32,int8}.json\n";
    }
  }
  return 0;
}

// Compares the quantized activations of the fake-quant and the integer
// forward of the same batch, site by site, in grid steps: where the two
// first part, and by how much. The fake-quant pass of a batch runs first
// (EvaluateStudentOnLfw embeds with the teacher, here the fake-quant model,
// then the student), so its values are held until the integer pass comes.
class LayerAgreement {
 public:
  explicit LayerAgreement(const qf::quant::FakeQuantHooks& hooks) {
    for (const qf::quant::FakeQuantHooks::Layer* layer : hooks.layers())
      AddSite(layer->name, *layer->input);
    for (const auto& [site, quantizer] : hooks.add_operands()) AddSite(site, *quantizer);
  }

  qf::quant::FakeQuantHooks::Tap FakeTap() {
    return [this](const std::string& site, const torch::Tensor& values) {
      fake_[site] = values.detach().contiguous();
    };
  }

  qf::quant::FakeQuantHooks::Tap IntegerTap() {
    return [this](const std::string& site, const torch::Tensor& values) {
      const auto fake = fake_.find(site);
      const auto step = steps_.find(site);
      if (fake == fake_.end() || step == steps_.end() ||
          !fake->second.sizes().equals(values.sizes()))
        return;
      const torch::Tensor steps =
          (values.contiguous() - fake->second).abs_().div_(step->second).round_();
      Stats& stats = stats_[site];
      stats.values += steps.numel();
      stats.differing += steps.gt(0).sum().item<int64_t>();
      stats.max_steps = std::max(stats.max_steps, steps.max().item<double>());
      fake_.erase(fake);
    };
  }

  void Print(std::ostream& out) const {
    out << absl::StrFormat("%-28s %12s %12s %10s\n", "site (forward order)", "values", "differing",
                           "max steps");
    for (const std::string& site : order_) {
      const auto it = stats_.find(site);
      if (it == stats_.end()) continue;
      const Stats& s = it->second;
      out << absl::StrFormat(
          "%-28s %12d %11.5f%% %10.0f\n", site, s.values,
          100.0 * static_cast<double>(s.differing) / static_cast<double>(s.values), s.max_steps);
    }
  }

 private:
  struct Stats {
    int64_t values = 0;
    int64_t differing = 0;  // Values more than half a grid step apart.
    double max_steps = 0;
  };
  void AddSite(const std::string& site, const qf::quant::ActivationQuantizer& quantizer) {
    if (!quantizer.initialized()) return;
    steps_[site] = quantizer.Params().scale.item<double>();
    order_.push_back(site);
  }
  std::map<std::string, double> steps_;  // Grid step by site.
  std::vector<std::string> order_;
  std::map<std::string, torch::Tensor> fake_;
  std::map<std::string, Stats> stats_;
};

int Int8Lfw(const std::string& path, const std::string& lfw_dir, int threads, int batch,
            bool layers) {
  torch::set_num_threads(threads);
  absl::StatusOr<PackedModel> packed = qf::quant::LoadPackedModel(path);
  if (!packed.ok()) {
    std::cerr << "error: " << packed.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Int8Model>> int8 = Int8Model::Create(*packed);
  absl::StatusOr<qf::eval::LfwDataset> dataset = qf::eval::LoadLfwDataset(lfw_dir);
  if (!int8.ok() || !dataset.ok()) {
    std::cerr << "error: " << (!int8.ok() ? int8.status() : dataset.status()) << "\n";
    return 1;
  }
  std::unique_ptr<LayerAgreement> agreement;
  if (layers) {
    agreement = std::make_unique<LayerAgreement>(*packed->hooks);
    packed->hooks->set_tap(agreement->FakeTap());
    (*int8)->set_tap(agreement->IntegerTap());
  }
  Int8Backbone integer(*std::move(int8), packed->model->spec());
  qf::quant::StudentLfwOptions options;
  options.batch_size = batch;
  absl::StatusOr<qf::quant::StudentLfwReport> report = qf::quant::EvaluateStudentOnLfw(
      *dataset, *packed->model, integer, torch::Device(torch::kCPU), options);
  if (!report.ok()) {
    std::cerr << "error: " << report.status() << "\n";
    return 1;
  }
  std::cout << qf::eval::FormatComparisonTable({{"fake-quant", &report->teacher},
                                                {"integer", &report->student},
                                                {"cross", &report->cross}})
            << absl::StrFormat("mean cosine fake-quant vs integer: %.6f (%.1f s)\n",
                               report->mean_teacher_student_cosine, report->seconds);
  if (agreement) agreement->Print(std::cout);
  return 0;
}

}  // namespace

// Renders `count` images of a synthetic source into a contact sheet (8 per
// row) and prints the mean pairwise cosine of the teacher's embeddings of
// them: near 1 means the teacher sees them all as one "identity".
int SynthPreview(const std::string& teacher_name, const std::string& source_name, int64_t count,
                 uint64_t seed, qf::synth::InversionOptions inversion, const std::string& out) {
  auto teacher = qf::nn::LoadBuiltinModel(teacher_name, ".cache/assets");
  if (!teacher.ok()) {
    std::cerr << teacher.status().message() << "\n";
    return qf::cli::kExitRpcError;
  }
  const qf::nn::InputSpec& input = (*teacher)->spec().input;
  torch::Tensor batch;
  if (source_name == "procedural") {
    auto faces = qf::synth::ProceduralFaceSource::Create(input, seed);
    if (!faces.ok()) {
      std::cerr << faces.status().message() << "\n";
      return qf::cli::kExitUsage;
    }
    batch = (*faces)->NextBatch(count);
  } else if (source_name == "noise") {
    batch = qf::synth::NoiseSource(input, seed).NextBatch(count);
  } else if (source_name == "builtin" || source_name == "inverted-faces") {
    inversion.num_images = count;
    inversion.seed = seed;
    if (source_name == "inverted-faces")
      inversion.start = qf::synth::InversionStart::kRenderedFaces;
    auto generated = qf::synth::GenerateByInversion(**teacher, inversion, torch::kCPU);
    if (!generated.ok()) {
      std::cerr << generated.status().message() << "\n";
      return qf::cli::kExitUsage;
    }
    batch = *generated;
  } else {
    std::cerr << "--source must be procedural, noise, builtin or inverted-faces\n";
    return qf::cli::kExitUsage;
  }
  torch::NoGradGuard no_grad;
  (*teacher)->eval();
  const absl::StatusOr<double> mean_cos = qf::eval::MeanPairwiseCosine((*teacher)->forward(batch));
  if (!mean_cos.ok()) {
    std::cerr << mean_cos.status().message() << "\n";
    return qf::cli::kExitUsage;
  }
  const absl::StatusOr<std::vector<cv::Mat>> crops = qf::image::TensorToCrops(batch, input);
  if (!crops.ok()) {
    std::cerr << crops.status().message() << "\n";
    return qf::cli::kExitRpcError;
  }
  const int s = input.size;
  const int cols = 8, rows = static_cast<int>((count + cols - 1) / cols);
  cv::Mat sheet = cv::Mat::zeros(rows * s, cols * s, CV_8UC3);
  for (int64_t i = 0; i < count; ++i) {
    const int row = static_cast<int>(i / cols), col = static_cast<int>(i % cols);
    (*crops)[static_cast<size_t>(i)].copyTo(sheet(cv::Rect(col * s, row * s, s, s)));
  }
  if (!cv::imwrite(out, sheet)) {
    std::cerr << "cannot write " << out << "\n";
    return qf::cli::kExitRpcError;
  }
  std::cout << absl::StrFormat(
      "%s: %d images -> %s; teacher embeddings: mean pairwise cosine %.4f\n", source_name, count,
      out, *mean_cos);
  return qf::cli::kExitOk;
}

int main(int argc, char** argv) {
  CLI::App app{"QuantFace offline quantization benchmark", "quant_bench"};
  app.require_subcommand(1);
  qf::cli::CliContext context;  // Unused: everything runs locally.
  int exit_status = qf::cli::kExitOk;
  qf::cli::AddQuantizeCommands(app, context, exit_status);

  std::string model_path;
  int threads = 2;
  std::vector<int64_t> batches = {1, 32};
  int rounds = 9;
  std::string trace_prefix;
  CLI::App* speed = app.add_subcommand("speed", "float32 vs integer inference throughput");
  speed->add_option("--model", model_path, "Packed model file")->required();
  speed->add_option("--threads", threads)->capture_default_str();
  speed->add_option("--batches", batches)->delimiter(',');
  speed->add_option("--rounds", rounds, "Alternating float32/integer rounds per batch size")
      ->capture_default_str();
  speed->add_option("--trace", trace_prefix,
                    "Also write chrome://tracing profiles of one pass: PREFIX-b<batch>-*.json");
  speed->callback([&] { exit_status = Speed(model_path, threads, batches, rounds, trace_prefix); });

  std::string lfw_dir;
  CLI::App* lfw = app.add_subcommand("int8-lfw", "LFW: fake-quant vs integer inference");
  lfw->add_option("--model", model_path, "Packed model file")->required();
  lfw->add_option("--lfw", lfw_dir, "LFW directory")->required();
  lfw->add_option("--threads", threads)->capture_default_str();
  int lfw_batch = 32;
  lfw->add_option("--batch", lfw_batch,
                  "Images per forward pass (the fake-quant model's float accumulation order, "
                  "and so its near-tie roundings, depend on it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bool lfw_layers = false;
  lfw->add_flag("--layers", lfw_layers,
                "Also compare the two forwards' quantized activations, site by site");
  lfw->callback(
      [&] { exit_status = Int8Lfw(model_path, lfw_dir, threads, lfw_batch, lfw_layers); });

  qf::bench::AddAllPairsCommand(app, exit_status);
  qf::bench::AddChannelRangesCommand(app, exit_status);

  std::string teacher_name = "dlib-resnet", source_name = "procedural", out = "synth.png";
  qf::bench::SensitivityOptions weight_options;
  CLI::App* weight_sensitivity =
      app.add_subcommand("weight-sensitivity",
                         "Embedding cosine with one layer's (or all but one) weights at low bits");
  weight_sensitivity->add_option("--teacher", weight_options.teacher)->capture_default_str();
  weight_sensitivity->add_option("--weight-bits", weight_options.weight_bits)
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  weight_sensitivity->add_option("--images", weight_options.images, "Rendered faces")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  weight_sensitivity
      ->add_option("--weight-scheme", weight_options.weight_scheme, "asymmetric or symmetric")
      ->capture_default_str();
  weight_sensitivity->add_option("--threads", weight_options.threads)->capture_default_str();
  weight_sensitivity->add_option("--asset-dir", weight_options.asset_dir)->capture_default_str();
  weight_sensitivity->callback([&] { exit_status = qf::bench::WeightSensitivity(weight_options); });

  qf::bench::SensitivityOptions activation_options;
  activation_options.weight_bits = 8;
  activation_options.activation_bits = 4;
  activation_options.images = 32;
  CLI::App* activation_sensitivity = app.add_subcommand(
      "activation-sensitivity",
      "Embedding cosine with one quantized activation (or all but one) at low bits");
  activation_sensitivity->add_option("--teacher", activation_options.teacher)
      ->capture_default_str();
  activation_sensitivity->add_option("--activation-bits", activation_options.activation_bits)
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  activation_sensitivity->add_option("--weight-bits", activation_options.weight_bits)
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  activation_sensitivity
      ->add_option("--activation-ranges", activation_options.activation_ranges, "minmax or mse")
      ->capture_default_str();
  activation_sensitivity->add_option("--images", activation_options.images, "Rendered faces")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  activation_sensitivity->add_option("--threads", activation_options.threads)
      ->capture_default_str();
  activation_sensitivity->add_option("--asset-dir", activation_options.asset_dir)
      ->capture_default_str();
  activation_sensitivity->callback(
      [&] { exit_status = qf::bench::ActivationSensitivity(activation_options); });

  int64_t count = 32;
  uint64_t seed = 1;
  CLI::App* preview = app.add_subcommand("synth-preview", "Contact sheet of a synthetic source");
  preview->add_option("--teacher", teacher_name)->capture_default_str();
  qf::synth::InversionOptions preview_inversion;
  preview->add_option("--source", source_name, "procedural, noise, builtin or inverted-faces")
      ->capture_default_str();
  preview->add_option("--synth-steps", preview_inversion.steps, "builtin, inverted-faces: steps")
      ->capture_default_str();
  preview
      ->add_option("--synth-lr", preview_inversion.learning_rate,
                   "builtin, inverted-faces: Adam step size in pixel levels (0: the source's)")
      ->capture_default_str();
  preview->add_option("--synth-spread", preview_inversion.spread, "inverted-faces: spread")
      ->capture_default_str();
  preview->add_option("--threads", threads)->capture_default_str();
  preview->add_option("--count", count)->capture_default_str()->check(CLI::Range(2, 4096));
  preview->add_option("--seed", seed)->capture_default_str();
  preview->add_option("--out", out, "PNG file")->capture_default_str();
  preview->callback([&] {
    torch::set_num_threads(threads);
    exit_status = SynthPreview(teacher_name, source_name, count, seed, preview_inversion, out);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? qf::cli::kExitOk : qf::cli::kExitUsage;
  }
  return exit_status;
}
