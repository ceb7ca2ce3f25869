#include "bench/quant/sensitivity.h"

#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/nn/layer_hooks.h"
#include "core/nn/model_zoo.h"
#include "core/nn/scoped_layer_hooks.h"
#include "core/quant/affine.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/range_estimator.h"
#include "core/synth/procedural_face_source.h"

namespace qf::bench {
namespace {

using quant::FakeQuantHooks;

// Sends each site to the low-bit hooks when it is in `low_sites`, else to the
// 8-bit ones. Both hook sets were attached to the same backbone, so both
// know its modules; each applies its own frozen ranges.
class SiteRouter : public nn::LayerHooks {
 public:
  SiteRouter(std::shared_ptr<FakeQuantHooks> high, std::shared_ptr<FakeQuantHooks> low,
             std::map<const torch::nn::Module*, std::string> layer_names)
      : high_(std::move(high)), low_(std::move(low)), layer_names_(std::move(layer_names)) {}

  torch::Tensor Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) override {
    return For(layer_names_.at(&conv)).Conv2d(conv, input);
  }
  torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) override {
    return For(layer_names_.at(&linear)).Linear(linear, input);
  }
  torch::Tensor AddOperand(const std::string& site, const torch::Tensor& x) override {
    return For(site).AddOperand(site, x);
  }

  void set_low_sites(std::set<std::string> sites) { low_sites_ = std::move(sites); }

 private:
  FakeQuantHooks& For(const std::string& site) { return low_sites_.count(site) ? *low_ : *high_; }

  const std::shared_ptr<FakeQuantHooks> high_;
  const std::shared_ptr<FakeQuantHooks> low_;
  const std::map<const torch::nn::Module*, std::string> layer_names_;
  std::set<std::string> low_sites_;
};

// Attaches hooks with `options` to `student` and calibrates their ranges on
// `batch` (one observed forward, then frozen).
absl::StatusOr<std::shared_ptr<FakeQuantHooks>> Calibrated(nn::Backbone& student,
                                                           const quant::FakeQuantOptions& options,
                                                           const torch::Tensor& batch) {
  auto hooks = FakeQuantHooks::Attach(student, options);
  if (!hooks.ok()) return hooks.status();
  student.forward(batch);
  (*hooks)->set_observing(false);
  return hooks;
}

double MeanCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::nn::functional::cosine_similarity(a, b).mean().item<double>();
}

// What both tools start from: the teacher, a student to quantize (Hookable),
// the rendered faces and the teacher's embeddings of them.
struct Setup {
  std::shared_ptr<nn::Backbone> teacher;
  std::shared_ptr<nn::Backbone> student;
  nn::Hookable* hookable = nullptr;  // The student's.
  torch::Tensor batch;
  torch::Tensor reference;
};

absl::StatusOr<Setup> Prepare(const SensitivityOptions& options) {
  torch::set_num_threads(options.threads);
  Setup setup;
  auto teacher = nn::LoadBuiltinModel(options.teacher, options.asset_dir);
  if (!teacher.ok()) return teacher.status();
  auto student = nn::LoadBuiltinModel(options.teacher, options.asset_dir);
  if (!student.ok()) return student.status();
  setup.teacher = *std::move(teacher);
  setup.student = *std::move(student);
  setup.hookable = dynamic_cast<nn::Hookable*>(setup.student.get());
  if (setup.hookable == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", options.teacher, "' does not support quantization hooks"));
  }
  setup.teacher->eval();
  setup.student->eval();
  torch::NoGradGuard no_grad;
  auto source = synth::ProceduralFaceSource::Create(setup.teacher->spec().input, /*seed=*/1);
  if (!source.ok()) return source.status();
  setup.batch = (*source)->NextBatch(options.images);
  setup.reference = setup.teacher->forward(setup.batch);
  return setup;
}

// The fake-quant options for `options`' scheme and ranges at these bits.
absl::StatusOr<quant::FakeQuantOptions> FakeQuant(const SensitivityOptions& options,
                                                  int weight_bits, int activation_bits) {
  quant::FakeQuantOptions fq;
  fq.bits = {weight_bits, activation_bits};
  auto scheme = quant::ParseWeightScheme(options.weight_scheme);
  if (!scheme.ok()) return scheme.status();
  fq.weight_scheme = *scheme;
  auto ranges = quant::ParseRangeEstimator(options.activation_ranges);
  if (!ranges.ok()) return ranges.status();
  fq.activation_ranges = *ranges;
  return fq;
}

int Fail(const absl::Status& status) {
  std::cerr << "error: " << status << "\n";
  return 1;
}

}  // namespace

int WeightSensitivity(const SensitivityOptions& options) {
  auto setup = Prepare(options);
  if (!setup.ok()) return Fail(setup.status());
  auto fq = FakeQuant(options, 8, 8);
  if (!fq.ok()) return Fail(fq.status());
  nn::Backbone& model = *setup->student;
  torch::NoGradGuard no_grad;
  auto hooks = Calibrated(model, *fq, setup->batch);
  if (!hooks.ok()) return Fail(hooks.status());
  std::vector<FakeQuantHooks::Layer*> layers;
  for (const auto* layer : (*hooks)->layers())
    layers.push_back((*hooks)->mutable_layer(layer->name));
  const auto set_all = [&](int bits) {
    for (auto* layer : layers) layer->weight_bits = bits;
  };
  const auto cosine = [&] { return MeanCosine(model.forward(setup->batch), setup->reference); };
  const int bits = options.weight_bits;
  set_all(8);
  std::cout << absl::StrFormat("all weights at 8 bits: cosine %.4f\n", cosine());
  set_all(bits);
  std::cout << absl::StrFormat("all weights at %d bits: cosine %.4f\n", bits, cosine());
  std::cout << absl::StrFormat("%-24s %10s %12s %12s\n", "layer", "weights",
                               absl::StrFormat("only it w%d", bits), "all but it");
  auto params = model.named_parameters();
  for (auto* layer : layers) {
    set_all(8);
    layer->weight_bits = bits;
    const double only = cosine();
    set_all(bits);
    layer->weight_bits = 8;
    const double all_but = cosine();
    const torch::Tensor* weight = params.find(layer->name + ".weight");
    std::cout << absl::StrFormat("%-24s %10d %12.4f %12.4f\n", layer->name,
                                 weight ? weight->numel() : 0, only, all_but);
  }
  setup->hookable->set_layer_hooks(nullptr);
  return 0;
}

int ActivationSensitivity(const SensitivityOptions& options) {
  auto setup = Prepare(options);
  if (!setup.ok()) return Fail(setup.status());
  nn::Backbone& model = *setup->student;
  nn::Hookable* hookable = setup->hookable;
  const torch::Tensor& batch = setup->batch;
  const torch::Tensor& reference = setup->reference;
  torch::NoGradGuard no_grad;

  auto high_options = FakeQuant(options, options.weight_bits, 8);
  auto low_options = FakeQuant(options, options.weight_bits, options.activation_bits);
  if (!low_options.ok()) return Fail(low_options.status());
  auto high = Calibrated(model, *high_options, batch);
  auto low = high.ok() ? Calibrated(model, *low_options, batch) : high;
  if (!low.ok()) return Fail(low.status());
  // The sites in forward order, as the low-bit hooks see them.
  std::vector<std::string> sites;
  std::set<std::string> layer_sites;
  for (const auto* layer : (*low)->layers()) layer_sites.insert(layer->name);
  (*low)->set_tap([&](const std::string& site, const torch::Tensor&) {
    if (std::find(sites.begin(), sites.end(), site) == sites.end()) sites.push_back(site);
  });
  model.forward(batch);
  (*low)->set_tap(nullptr);

  auto router = std::make_shared<SiteRouter>(*high, *low, quant::QuantizedLayerNames(model));
  const nn::ScopedLayerHooks routing(*hookable, router);
  const auto cosine_with_low = [&](std::set<std::string> low_sites) {
    router->set_low_sites(std::move(low_sites));
    return MeanCosine(model.forward(batch), reference);
  };
  const std::set<std::string> all(sites.begin(), sites.end());
  const int a = options.activation_bits;
  std::cout << absl::StrFormat("weights at %d bits, activations at 8 bits: cosine %.4f\n",
                               options.weight_bits, cosine_with_low({}));
  std::cout << absl::StrFormat("weights at %d bits, activations at %d bits: cosine %.4f\n",
                               options.weight_bits, a, cosine_with_low(all));
  std::set<std::string> layer_inputs, add_operands;
  for (const auto& site : sites)
    (layer_sites.count(site) ? layer_inputs : add_operands).insert(site);
  std::cout << absl::StrFormat("only conv/linear inputs at %d bits: cosine %.4f\n", a,
                               cosine_with_low(layer_inputs));
  std::cout << absl::StrFormat("only add operands at %d bits: cosine %.4f\n", a,
                               cosine_with_low(add_operands));
  std::cout << absl::StrFormat("%-28s %12s %12s\n", "site", absl::StrFormat("only it a%d", a),
                               "all but it");
  for (const auto& site : sites) {
    const double only = cosine_with_low({site});
    std::set<std::string> others = all;
    others.erase(site);
    const double all_but = cosine_with_low(std::move(others));
    std::cout << absl::StrFormat("%-28s %12.4f %12.4f\n", site, only, all_but);
  }
  return 0;
}

}  // namespace qf::bench
