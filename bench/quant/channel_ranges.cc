#include "bench/quant/channel_ranges.h"

#include <torch/torch.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/nn/layer_hooks.h"
#include "core/nn/model_zoo.h"
#include "core/nn/scoped_layer_hooks.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/residual_stream_equalizer.h"
#include "core/synth/procedural_face_source.h"

namespace qf::bench {
namespace {

struct ChannelRangesArgs {
  std::string teacher = "dlib-resnet";
  std::string asset_dir = ".cache/assets";
  int64_t images = 32;
  int threads = 2;
  std::vector<double> strengths;  // --equalize: residual stream strengths to try.
};

// What one site's input spans: each channel's max - min, and the tensor's.
struct SiteSpans {
  torch::Tensor channels;  // [channels]
  double tensor = 0;
};

// Full-precision hooks that only record what each site sees, for one forward.
class SpanRecorder : public nn::LayerHooks {
 public:
  explicit SpanRecorder(std::map<const torch::nn::Module*, std::string> layer_names)
      : layer_names_(std::move(layer_names)) {}

  torch::Tensor Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) override {
    Record(layer_names_.at(&conv), input);
    return conv.forward(input);
  }
  torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) override {
    Record(layer_names_.at(&linear), input);
    return linear.forward(input);
  }
  torch::Tensor AddOperand(const std::string& site, const torch::Tensor& x) override {
    Record(site, x);
    return x;
  }

  // Sites in the order the forward reached them.
  const std::vector<std::string>& order() const { return order_; }
  const SiteSpans& spans(const std::string& site) const { return spans_.at(site); }

 private:
  void Record(const std::string& site, const torch::Tensor& x) {
    if (spans_.count(site) == 0) order_.push_back(site);
    spans_[site] = SiteSpans{quant::ChannelSpans(x), (x.max() - x.min()).item<double>()};
  }

  const std::map<const torch::nn::Module*, std::string> layer_names_;
  std::vector<std::string> order_;
  std::map<std::string, SiteSpans> spans_;
};

int Fail(const absl::Status& status) {
  std::cerr << "error: " << status << "\n";
  return 1;
}

double MeanCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::nn::functional::cosine_similarity(a, b).mean().item<double>();
}

// Embedding cosine to `reference` on `eval` of a fake-quant student of
// `model` at `bits`, at the paper's quantization points (first/last layer
// at 8 bits, residual operand at 8, MSE-clipped ranges), calibrated on
// `calibration` (one observed forward). Leaves `model` unhooked.
absl::StatusOr<double> PtqCosine(nn::Backbone& model, quant::QuantBits bits,
                                 const torch::Tensor& calibration, const torch::Tensor& eval,
                                 const torch::Tensor& reference) {
  quant::FakeQuantOptions options;
  options.bits = bits;
  options.keep_first_last_8bit = true;
  options.keep_residual_operands_8bit = true;
  options.activation_ranges = quant::RangeEstimator::kMse;
  options.weight_ranges = quant::RangeEstimator::kMse;
  auto hooks = quant::FakeQuantHooks::Attach(model, options);
  if (!hooks.ok()) return hooks.status();
  model.forward(calibration);
  (*hooks)->set_observing(false);
  const double cosine = MeanCosine(model.forward(eval), reference);
  quant::FakeQuantHooks::Detach(model);
  return cosine;
}

// Residual stream equalization at each strength on a fresh copy of the
// model: float cosine (should stay 1) and PTQ cosines at three widths.
int TryEqualization(const ChannelRangesArgs& args, const torch::Tensor& calibration,
                    const torch::Tensor& eval, const torch::Tensor& reference) {
  std::cout << absl::StrFormat(
      "\nresidual stream equalization, PTQ at the paper's points (calibrated on %d faces, "
      "cosine on %d others)\n",
      calibration.size(0), eval.size(0));
  std::cout << absl::StrFormat("%-9s %8s %8s %8s %8s %8s %8s\n", "strength", "float", "w4a4",
                               "w8a4", "w4a8", "min f", "max f");
  for (const double strength : args.strengths) {
    auto model = nn::LoadBuiltinModel(args.teacher, args.asset_dir);
    if (!model.ok()) return Fail(model.status());
    (*model)->eval();
    auto factors = quant::ResidualStreamFactors(**model, calibration, strength);
    if (!factors.ok()) return Fail(factors.status());
    const absl::Status applied = quant::ScaleResidualStream(**model, *factors);
    if (!applied.ok()) return Fail(applied);
    const double float_cosine = MeanCosine((*model)->forward(eval), reference);
    std::vector<double> cosines;
    for (const quant::QuantBits bits :
         {quant::QuantBits{4, 4}, quant::QuantBits{8, 4}, quant::QuantBits{4, 8}}) {
      auto cosine = PtqCosine(**model, bits, calibration, eval, reference);
      if (!cosine.ok()) return Fail(cosine.status());
      cosines.push_back(*cosine);
    }
    std::cout << absl::StrFormat("%-9.2f %8.5f %8.5f %8.5f %8.5f %8.3f %8.3f\n", strength,
                                 float_cosine, cosines[0], cosines[1], cosines[2],
                                 factors->min().item<double>(), factors->max().item<double>());
  }
  return 0;
}

int Run(const ChannelRangesArgs& args) {
  torch::set_num_threads(args.threads);
  auto model = nn::LoadBuiltinModel(args.teacher, args.asset_dir);
  if (!model.ok()) {
    std::cerr << "error: " << model.status() << "\n";
    return 1;
  }
  auto* hookable = dynamic_cast<nn::Hookable*>(model->get());
  if (hookable == nullptr) {
    std::cerr << "error: '" << args.teacher << "' does not support quantization hooks\n";
    return 1;
  }
  (*model)->eval();
  auto source = synth::ProceduralFaceSource::Create((*model)->spec().input, /*seed=*/1);
  if (!source.ok()) {
    std::cerr << "error: " << source.status() << "\n";
    return 1;
  }
  auto recorder = std::make_shared<SpanRecorder>(quant::QuantizedLayerNames(**model));
  torch::NoGradGuard no_grad;
  const torch::Tensor calibration = (*source)->NextBatch(args.images);
  const torch::Tensor eval = (*source)->NextBatch(args.images);
  {
    const nn::ScopedLayerHooks recording(*hookable, recorder);
    (*model)->forward(calibration);
  }

  std::cout << absl::StrFormat("%s: %d rendered faces, per-channel spans relative to the site's\n",
                               args.teacher, args.images);
  std::cout << absl::StrFormat("%-28s %8s %10s %10s %10s %14s\n", "site", "channels", "span",
                               "median", "p10", "under 1/15");
  for (const std::string& site : recorder->order()) {
    const SiteSpans& spans = recorder->spans(site);
    const double span = spans.tensor;
    const torch::Tensor relative = std::get<0>(spans.channels.sort()) / std::max(span, 1e-12);
    const int64_t channels = relative.numel();
    const int64_t under_a_step = (relative < 1.0 / 15).sum().item<int64_t>();
    std::cout << absl::StrFormat("%-28s %8d %10.3f %10.3f %10.3f %8d (%3.0f%%)\n", site, channels,
                                 span, relative[channels / 2].item<double>(),
                                 relative[channels / 10].item<double>(), under_a_step,
                                 100.0 * under_a_step / channels);
  }
  if (args.strengths.empty()) return 0;
  return TryEqualization(args, calibration, eval, (*model)->forward(eval));
}

}  // namespace

void AddChannelRangesCommand(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<ChannelRangesArgs>();
  CLI::App* command = app.add_subcommand(
      "channel-ranges", "How unequal each quantized activation's channels are (full precision)");
  command->add_option("--teacher", args->teacher)->capture_default_str();
  command->add_option("--images", args->images, "Rendered faces")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  command->add_option("--threads", args->threads)->capture_default_str();
  command
      ->add_option("--equalize", args->strengths,
                   "Also try residual stream equalization at these strengths (0-1, "
                   "comma-separated; dlib-resnet)")
      ->delimiter(',');
  command->add_option("--asset-dir", args->asset_dir)->capture_default_str();
  command->callback([args, &exit_status] { exit_status = Run(*args); });
}

}  // namespace qf::bench
