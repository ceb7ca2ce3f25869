#include "core/quant/fake_quant_hooks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "tests/unit/quant/off_grid_share.h"
#include "tests/unit/quant/tiny_backbone.h"

namespace qf::quant {
namespace {

using testing::OffGridShare;
using testing::TinyBackbone;

double MeanCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::nn::functional::cosine_similarity(a, b).mean().item<double>();
}

// Attaches hooks with `options` to `model` and observes the activation
// ranges on `x`; `observed`, when given, receives that forward's output.
absl::StatusOr<std::shared_ptr<FakeQuantHooks>> AttachAndObserve(
    TinyBackbone& model, const FakeQuantOptions& options, const torch::Tensor& x,
    torch::Tensor* observed = nullptr) {
  absl::StatusOr<std::shared_ptr<FakeQuantHooks>> hooks = FakeQuantHooks::Attach(model, options);
  if (hooks.ok()) {
    torch::NoGradGuard no_grad;
    const torch::Tensor out = model.forward(x);
    if (observed != nullptr) *observed = out;
  }
  return hooks;
}

TEST(FakeQuantHooksTest, RefusesBackboneWithoutHooks) {
  testing::UnhookableBackbone model;
  const auto hooks = FakeQuantHooks::Attach(model, {});
  EXPECT_EQ(hooks.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FakeQuantHooksTest, RefusesBadBits) {
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {1, 8};
  EXPECT_EQ(FakeQuantHooks::Attach(model, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FakeQuantHooksTest, FindsEveryLayerAndAddOperand) {
  torch::manual_seed(0);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 6};
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  const auto layers = (*hooks)->layers();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0]->name, "conv1");
  EXPECT_EQ(layers[2]->name, "fc");
  for (const auto* layer : layers) {
    EXPECT_EQ(layer->weight_bits, 4);
    EXPECT_EQ(layer->input->bits(), 6);
  }
  torch::NoGradGuard no_grad;
  model.forward(torch::randn({2, 3, 16, 16}));
  EXPECT_EQ((*hooks)->add_operands().size(), 2u);
  for (const auto* layer : layers) EXPECT_TRUE(layer->input->initialized()) << layer->name;
}

TEST(FakeQuantHooksTest, KeepFirstLast8Bit) {
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {2, 3};
  options.keep_first_last_8bit = true;
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  const auto layers = (*hooks)->layers();
  EXPECT_EQ(layers[0]->weight_bits, 8);
  EXPECT_EQ(layers[0]->input->bits(), 8);
  EXPECT_EQ(layers[1]->weight_bits, 2);
  EXPECT_EQ(layers[1]->input->bits(), 3);
  EXPECT_EQ(layers[2]->weight_bits, 8);
  // The kept layers take the symmetric grid (so the model stays on oneDNN);
  // the others keep the requested scheme.
  EXPECT_EQ(layers[0]->weight_scheme, WeightScheme::kSymmetric);
  EXPECT_EQ(layers[1]->weight_scheme, WeightScheme::kAsymmetric);
  EXPECT_EQ(layers[2]->weight_scheme, WeightScheme::kSymmetric);
}

// Named layers keep 8-bit weights (symmetric) and an 8-bit input; the rest
// stay at the requested bits. An unknown name is refused with the list of
// the model's layers.
TEST(FakeQuantHooksTest, KeepsNamedLayersAt8Bits) {
  nn::FaceRes model;
  const std::vector<std::string> names = OrderedQuantizedLayerNames(model);
  ASSERT_EQ(names.size(), 27u);
  EXPECT_EQ(names.front(), "conv1");
  EXPECT_EQ(names[1], "conv_dw_1");
  FakeQuantOptions options;
  options.bits = {4, 4};
  options.keep_8bit_layers = {"conv_dw_1", "conv_pw_12"};
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  int kept = 0;
  for (const auto* layer : (*hooks)->layers()) {
    const bool keep = layer->name == "conv_dw_1" || layer->name == "conv_pw_12";
    kept += keep;
    EXPECT_EQ(layer->weight_bits, keep ? 8 : 4) << layer->name;
    EXPECT_EQ(layer->input->bits(), keep ? 8 : 4) << layer->name;
    EXPECT_EQ(layer->weight_scheme, keep ? WeightScheme::kSymmetric : WeightScheme::kAsymmetric)
        << layer->name;
  }
  EXPECT_EQ(kept, 2);

  options.keep_8bit_layers = {"conv_dw_1", "conv_dw_99"};
  const auto refused = FakeQuantHooks::Attach(model, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("'conv_dw_99'"), std::string::npos);
  EXPECT_NE(refused.status().message().find("conv1, conv_dw_1, conv_pw_1"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(CheckKeep8BitLayers(model, {}).ok());
  EXPECT_TRUE(CheckKeep8BitLayers(model, names).ok());
}

// The default scheme (kAuto) puts 8-bit layers on the symmetric grid and
// narrower ones on the paper's asymmetric grid, per layer; an explicit
// scheme applies to every layer the keep options leave alone.
TEST(FakeQuantHooksTest, DefaultSchemeIsSymmetricAt8BitWeightsOnly) {
  TinyBackbone model;
  FakeQuantOptions options;
  EXPECT_EQ(options.weight_scheme, WeightScheme::kAuto);
  options.bits = {8, 4};
  auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  for (const auto* layer : (*hooks)->layers()) {
    EXPECT_EQ(layer->weight_scheme, WeightScheme::kSymmetric) << layer->name;
  }

  options.bits = {4, 8};
  options.keep_first_last_8bit = true;
  hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  const auto layers = (*hooks)->layers();
  EXPECT_EQ(layers[0]->weight_scheme, WeightScheme::kSymmetric);
  EXPECT_EQ(layers[1]->weight_scheme, WeightScheme::kAsymmetric);
  EXPECT_EQ(layers[2]->weight_scheme, WeightScheme::kSymmetric);

  options.bits = {8, 8};
  options.keep_first_last_8bit = false;
  options.weight_scheme = WeightScheme::kAsymmetric;
  hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  for (const auto* layer : (*hooks)->layers()) {
    EXPECT_EQ(layer->weight_scheme, WeightScheme::kAsymmetric) << layer->name;
  }
}

// Depthwise convs keep 8-bit weights on the symmetric grid; their inputs
// and every other layer stay at the requested bits and scheme.
TEST(FakeQuantHooksTest, KeepDepthwise8Bit) {
  nn::FaceRes model;
  FakeQuantOptions options;
  options.bits = {4, 6};
  options.keep_depthwise_8bit = true;
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  int depthwise = 0;
  for (const auto* layer : (*hooks)->layers()) {
    const bool is_depthwise = layer->name.rfind("conv_dw_", 0) == 0;
    depthwise += is_depthwise;
    EXPECT_EQ(layer->weight_bits, is_depthwise ? 8 : 4) << layer->name;
    EXPECT_EQ(layer->weight_scheme,
              is_depthwise ? WeightScheme::kSymmetric : WeightScheme::kAsymmetric)
        << layer->name;
    EXPECT_EQ(layer->input->bits(), 6) << layer->name;
  }
  EXPECT_EQ(depthwise, 13);
  EXPECT_TRUE(HasDepthwiseConv(model));

  // A model without depthwise convs has nothing to keep: refused, not
  // silently ignored.
  nn::DlibResnet dlib;
  EXPECT_FALSE(HasDepthwiseConv(dlib));
  const auto refused = FakeQuantHooks::Attach(dlib, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("depthwise"), std::string::npos);
}

// Which add operands each option keeps at 8 bits (min/max ranges): none by
// default (the text), both under keep_add_operands_8bit, the
// branch's (site "<block>/residual") under keep_residual_operands_8bit (the
// paper's points). The rest, and every conv/linear input, take the
// activation bits and ranges. A model without adds refuses either option.
TEST(FakeQuantHooksTest, AddOperandBitsFollowTheOptions) {
  struct Case {
    const char* name;
    bool keep_adds;
    bool keep_residual;
    int residual_bits;
    int shortcut_bits;
  };
  for (const Case& c :
       {Case{"default", false, false, 4, 4}, Case{"keep_add_operands_8bit", true, false, 8, 8},
        Case{"keep_residual_operands_8bit", false, true, 8, 4}}) {
    torch::manual_seed(3);
    nn::DlibResnet model;
    model.eval();
    EXPECT_TRUE(HasAddOperands(model));
    FakeQuantOptions options;
    options.bits = {4, 4};
    options.activation_ranges = RangeEstimator::kMse;
    options.keep_add_operands_8bit = c.keep_adds;
    options.keep_residual_operands_8bit = c.keep_residual;
    const auto hooks = FakeQuantHooks::Attach(model, options);
    ASSERT_TRUE(hooks.ok()) << c.name << ": " << hooks.status();
    torch::NoGradGuard no_grad;
    model.forward(torch::rand({1, 3, 150, 150}));  // Creates the add-operand quantizers.
    ASSERT_EQ((*hooks)->add_operands().size(), 28u) << c.name;
    int residual_sites = 0;
    for (const auto& [site, quantizer] : (*hooks)->add_operands()) {
      const bool residual = nn::IsResidualOperandSite(site);
      residual_sites += residual ? 1 : 0;
      const int expected = residual ? c.residual_bits : c.shortcut_bits;
      EXPECT_EQ(quantizer->bits(), expected) << c.name << " " << site;
      EXPECT_EQ(quantizer->estimator(),
                expected == 8 ? RangeEstimator::kMinMax : RangeEstimator::kMse)
          << c.name << " " << site;
    }
    EXPECT_EQ(residual_sites, 14) << c.name;
    for (const auto* layer : (*hooks)->layers()) {
      EXPECT_EQ(layer->input->bits(), 4) << c.name << " " << layer->name;
      EXPECT_EQ(layer->weight_bits, 4) << c.name << " " << layer->name;
    }
    if (!c.keep_adds && !c.keep_residual) continue;
    // faceres has no residual adds: refused, not silently ignored.
    nn::FaceRes faceres;
    EXPECT_FALSE(HasAddOperands(faceres));
    const auto refused = FakeQuantHooks::Attach(faceres, options);
    ASSERT_FALSE(refused.ok()) << c.name;
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find(c.name), std::string::npos) << refused.status();
    EXPECT_NE(refused.status().message().find("no residual adds"), std::string::npos);
  }
}

// MSE ranges clip the inner activations but leave the model's input (the
// image) on its min/max range.
TEST(FakeQuantHooksTest, MseRangesClipInnerActivationsButNotTheImage) {
  torch::manual_seed(5);
  nn::DlibResnet model;
  model.eval();
  const torch::Tensor image = torch::rand({2, 3, 150, 150}) * 2 - 1;
  std::vector<double> hi_by_estimator[2];
  for (const RangeEstimator estimator : {RangeEstimator::kMinMax, RangeEstimator::kMse}) {
    FakeQuantOptions options;
    options.bits = {4, 4};
    options.activation_ranges = estimator;
    const auto hooks = FakeQuantHooks::Attach(model, options);
    ASSERT_TRUE(hooks.ok());
    torch::NoGradGuard no_grad;
    model.forward(image);
    const auto layers = (*hooks)->layers();
    EXPECT_FLOAT_EQ(layers[0]->input->lo().item<float>(), image.min().item<float>());
    EXPECT_FLOAT_EQ(layers[0]->input->hi().item<float>(), image.max().item<float>());
    for (const auto* layer : layers) {
      hi_by_estimator[static_cast<int>(estimator)].push_back(layer->input->hi().item<double>());
    }
  }
  int clipped = 0;
  for (size_t i = 1; i < hi_by_estimator[0].size(); ++i) {
    clipped += hi_by_estimator[1][i] < 0.99 * hi_by_estimator[0][i];
  }
  EXPECT_GT(clipped, 0);
}

// MSE weight ranges: the clip factors follow the weights while observing and
// are frozen after, while the range keeps following the weights.
TEST(FakeQuantHooksTest, MseWeightClipsAreSetWhileObservingAndFrozenAfter) {
  torch::manual_seed(6);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 8};
  options.weight_ranges = RangeEstimator::kMse;
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const auto layers = (*hooks)->layers();
  EXPECT_FALSE(layers[0]->weight_clip.defined());
  model.forward(x);
  for (const auto* layer : layers) {
    ASSERT_TRUE(layer->weight_clip.defined()) << layer->name;
    EXPECT_TRUE(torch::equal(
        layer->weight_clip, EstimateWeightClip(model.named_parameters()[layer->name + ".weight"], 4,
                                               options.weight_scheme, RangeEstimator::kMse)))
        << layer->name;
  }
  (*hooks)->set_observing(false);
  const torch::Tensor frozen = layers[0]->weight_clip.clone();
  torch::Tensor& weight = model.named_parameters()[layers[0]->name + ".weight"];
  weight.mul_(2.0);
  const torch::Tensor out = model.forward(x);
  EXPECT_TRUE(torch::equal(layers[0]->weight_clip, frozen));
  // The grid scales with the weights: same clip factors, twice the step.
  const AffineParams params = (*hooks)->WeightParams(*layers[0], weight);
  EXPECT_TRUE(torch::allclose(
      params.scale,
      PerChannelWeightParams(weight / 2.0, 4, options.weight_scheme, frozen).scale * 2.0));
  EXPECT_TRUE(out.isfinite().all().item<bool>());
}

// Learned weight scales start on the grid the weights had (the forward does
// not move), take gradients, and replace that grid: a changed scale changes
// WeightParams and the forward, the zero point stays.
TEST(FakeQuantHooksTest, LearnedWeightScalesStartOnTheWeightsGridAndTakeGradients) {
  torch::manual_seed(11);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {3, 8};
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  torch::Tensor before;
  const auto hooks = AttachAndObserve(model, options, x, &before);
  ASSERT_TRUE(hooks.ok());
  const auto layers = (*hooks)->layers();
  const auto weight_of = [&](size_t i) {
    return model.named_parameters()[layers[i]->name + ".weight"];
  };
  std::vector<AffineParams> minmax;
  for (size_t i = 0; i < layers.size(); ++i) {
    minmax.push_back((*hooks)->WeightParams(*layers[i], weight_of(i)));
  }
  const std::vector<torch::Tensor> log_scales = (*hooks)->StartLearningWeightRanges();
  ASSERT_EQ(log_scales.size(), layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    EXPECT_TRUE(log_scales[i].requires_grad());
    EXPECT_TRUE(torch::allclose(log_scales[i].detach().exp(), minmax[i].scale, /*rtol=*/1e-6,
                                /*atol=*/0))
        << layers[i]->name;
  }
  // exp(log(scale)) may differ from the scale in its last bit, which moves
  // a weight lying exactly halfway between two grid points.
  const torch::Tensor after = model.forward(x);
  EXPECT_GT(MeanCosine(after.detach(), before), 0.99999);
  after.square().sum().backward();
  for (const torch::Tensor& log_scale : log_scales) {
    ASSERT_TRUE(log_scale.grad().defined());
    EXPECT_GT(log_scale.grad().abs().sum().item<double>(), 0.0);
  }
  EXPECT_TRUE((*hooks)->StartLearningWeightRanges()[1].is_same(log_scales[1]));  // Idempotent.

  torch::NoGradGuard no_grad;
  log_scales[1].sub_(std::log(2.0));
  const AffineParams halved = (*hooks)->WeightParams(*layers[1], weight_of(1));
  EXPECT_TRUE(torch::allclose(halved.scale, minmax[1].scale * 0.5));
  EXPECT_TRUE(torch::equal(halved.zero_point, minmax[1].zero_point));
  EXPECT_FALSE(torch::equal(model.forward(x), before));
}

// Adam's steps have one size for every element, whatever its gradient's.
// On a plain scale they walked a layer's small 4-bit steps to zero; on the
// log scale each step moves a scale by at most about lr of itself.
TEST(FakeQuantHooksTest, AdamMovesALearnedWeightScaleByAFractionOfItself) {
  torch::manual_seed(12);
  TinyBackbone model;
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model.named_parameters()) {
      if (item.key().find("weight") != std::string::npos) item.value().mul_(1e-3);
    }
  }
  FakeQuantOptions options;
  options.bits = {4, 8};
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const auto hooks = AttachAndObserve(model, options, x);
  ASSERT_TRUE(hooks.ok());
  const auto layers = (*hooks)->layers();
  const auto weight_of = [&](size_t i) {
    return model.named_parameters()[layers[i]->name + ".weight"];
  };
  std::vector<torch::Tensor> initial;
  for (size_t i = 0; i < layers.size(); ++i) {
    initial.push_back((*hooks)->WeightParams(*layers[i], weight_of(i)).scale);
    ASSERT_LT(initial.back().max().item<double>(), 1e-3) << layers[i]->name;
  }
  constexpr double kLearningRate = 1e-3;
  constexpr int kSteps = 50;
  torch::optim::Adam adam((*hooks)->StartLearningWeightRanges(),
                          torch::optim::AdamOptions(kLearningRate));
  for (int step = 0; step < kSteps; ++step) {
    adam.zero_grad();
    const torch::Tensor out = model.forward(x);
    (out * torch::randn_like(out)).sum().backward();  // A gradient of noise.
    adam.step();
  }
  const double bound = kLearningRate * kSteps * 1.1;  // Adam's first steps run a bit over lr.
  for (size_t i = 0; i < layers.size(); ++i) {
    const torch::Tensor log_ratio =
        ((*hooks)->WeightParams(*layers[i], weight_of(i)).scale / initial[i]).log();
    EXPECT_LT(log_ratio.abs().max().item<double>(), bound) << layers[i]->name;
    EXPECT_GT(log_ratio.abs().max().item<double>(), 0.0) << layers[i]->name;  // It learned.
  }
}

// Learned rounding takes over the layers under 8 bits: the forward follows
// the logits (soft and differentiable with grad mode on, decided without),
// the latent weights get no gradient, and finishing writes the decisions
// into the latent weights and keeps the grid, so the plain forward after it
// is the decided one.
TEST(FakeQuantHooksTest, LearnedRoundingDecidesTheWeightsAndBakesThemIn) {
  torch::manual_seed(13);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 8};
  options.keep_first_last_8bit = true;  // Leaves conv2 alone under 8 bits.
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const auto hooks = AttachAndObserve(model, options, x);
  ASSERT_TRUE(hooks.ok());
  torch::Tensor nearest;
  {
    torch::NoGradGuard no_grad;
    (*hooks)->set_observing(false);
    nearest = model.forward(x);
  }
  (*hooks)->TrackOscillations();
  const std::vector<torch::Tensor> logits = (*hooks)->StartLearningRounding(false);
  ASSERT_EQ(logits.size(), 1u);
  const auto layers = (*hooks)->layers();
  ASSERT_NE(layers[1]->rounding, nullptr);
  EXPECT_EQ(layers[1]->oscillations, nullptr);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(model.forward(x), nearest, 1e-5, 1e-6));
  }
  model.forward(x).square().sum().backward();
  auto parameters = model.named_parameters();
  EXPECT_FALSE(parameters["conv2.weight"].grad().defined());
  EXPECT_TRUE(parameters["conv1.weight"].grad().defined());
  ASSERT_TRUE(logits[0].grad().defined());
  EXPECT_GT(logits[0].grad().abs().sum().item<double>(), 0.0);

  {
    torch::NoGradGuard no_grad;
    logits[0].fill_(10.0);  // Every conv2 weight rounds up.
  }
  torch::Tensor up;
  {
    torch::NoGradGuard no_grad;
    up = model.forward(x);
  }
  EXPECT_FALSE(torch::allclose(up, nearest, 1e-3, 1e-4));
  EXPECT_DOUBLE_EQ((*hooks)->RoundingRegularizer(2.0).item<double>(), 0.0);
  const auto decided = (*hooks)->FinishLearningRounding();
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].name, "conv2");
  EXPECT_EQ(decided[0].counts.weights, 8 * 8 * 9);
  EXPECT_EQ(decided[0].counts.undecided, 0);
  EXPECT_GT(decided[0].counts.away_from_nearest, 0);
  EXPECT_EQ(layers[1]->rounding, nullptr);
  ASSERT_TRUE(layers[1]->frozen_weight_params.has_value());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(model.forward(x), up, 1e-5, 1e-6));
}

// Only the depthwise convs when asked: faceres has 13 of them.
TEST(FakeQuantHooksTest, LearnedRoundingOfDepthwiseConvsOnly) {
  nn::FaceRes faceres;
  FakeQuantOptions options;
  options.bits = {4, 4};
  const auto hooks = FakeQuantHooks::Attach(faceres, options);
  ASSERT_TRUE(hooks.ok());
  EXPECT_EQ((*hooks)->StartLearningRounding(/*depthwise_only=*/true).size(), 13u);
  for (const auto* layer : (*hooks)->layers()) {
    EXPECT_EQ(layer->rounding != nullptr, layer->depthwise) << layer->name;
  }
}

// One conv2 weight flips between two adjacent levels in training forwards
// until it freezes at its mean level: from then on the forward holds it there
// whatever its latent value, it takes no gradient, and finishing writes it
// into the latent weight without changing the forward.
TEST(FakeQuantHooksTest, OscillatingWeightFreezesAndBakesIntoTheLatentWeight) {
  torch::manual_seed(12);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 8};
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const auto hooks = AttachAndObserve(model, options, x);
  ASSERT_TRUE(hooks.ok());
  (*hooks)->set_observing(false);
  (*hooks)->TrackOscillations(/*momentum=*/0.5);
  (*hooks)->set_oscillation_freeze_threshold(0.6);
  const auto layers = (*hooks)->layers();
  ASSERT_EQ(layers[1]->name, "conv2");
  torch::Tensor weight = model.named_parameters()["conv2.weight"];
  const AffineParams grid = (*hooks)->WeightParams(*layers[1], weight);
  const double scale = grid.scale[0].item<double>();
  const double zero_point = grid.zero_point[0].item<double>();
  // A weight of channel 0 that is not the channel's extreme, moved between
  // levels 5 and 6 (the channel's min/max, hence its grid, stay put).
  const torch::Tensor channel = weight[0].flatten();
  const int64_t index = (channel - channel.median()).abs().argmin().item<int64_t>();
  const auto set_level = [&](double level) {
    torch::NoGradGuard no_grad;
    weight[0].view(-1)[index] = (level - zero_point) * scale;
  };
  for (const double level : {6.1, 5.1, 6.1, 5.1}) {  // Reversals at steps 3 and 4.
    set_level(level);
    model.forward(x);
  }
  const OscillationTracker& tracker = *layers[1]->oscillations;
  ASSERT_TRUE(tracker.has_frozen());
  ASSERT_EQ(tracker.Counts().frozen, 1);
  EXPECT_EQ(tracker.frozen_integers()[0].view(-1)[index].item<float>(), 5.f);
  torch::Tensor held;
  {
    torch::NoGradGuard no_grad;
    held = model.forward(x);
    set_level(8.0);
    EXPECT_TRUE(torch::allclose(model.forward(x), held));
  }
  model.forward(x).square().sum().backward();
  ASSERT_TRUE(weight.grad().defined());
  EXPECT_EQ(weight.grad()[0].view(-1)[index].item<float>(), 0.f);
  EXPECT_GT(weight.grad().abs().sum().item<double>(), 0.0);

  const std::vector<FakeQuantHooks::LayerOscillations> report =
      (*hooks)->FinishOscillationTracking();
  ASSERT_EQ(report.size(), 3u);  // Every layer is at 4 bits.
  EXPECT_EQ(report[1].name, "conv2");
  EXPECT_EQ(report[1].counts.frozen, 1);
  EXPECT_EQ(report[1].counts.weights, weight.numel());
  EXPECT_EQ(report[0].counts.frozen, 0);
  for (const auto* layer : layers) EXPECT_EQ(layer->oscillations, nullptr) << layer->name;
  EXPECT_NEAR(weight[0].view(-1)[index].item<double>(), (5.0 - zero_point) * scale, 1e-6);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(model.forward(x), held));
}

// Layers at 8 bits (here the first and last) are not tracked; forwards in
// no-grad mode or while observing record nothing.
TEST(FakeQuantHooksTest, TracksOnlyTrainingForwardsOfLayersUnder8Bits) {
  torch::manual_seed(13);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 4};
  options.keep_first_last_8bit = true;
  const auto hooks = FakeQuantHooks::Attach(model, options);
  ASSERT_TRUE(hooks.ok());
  (*hooks)->TrackOscillations();
  const auto layers = (*hooks)->layers();
  EXPECT_EQ(layers[0]->oscillations, nullptr);
  ASSERT_NE(layers[1]->oscillations, nullptr);
  EXPECT_EQ(layers[2]->oscillations, nullptr);
  const torch::Tensor x = torch::randn({2, 3, 16, 16});
  model.forward(x);  // Observing: not a training step yet.
  (*hooks)->set_observing(false);
  {
    torch::NoGradGuard no_grad;
    model.forward(x);
  }
  EXPECT_EQ(layers[1]->oscillations->steps(), 0);
  model.forward(x);
  EXPECT_EQ(layers[1]->oscillations->steps(), 1);
  const auto report = (*hooks)->FinishOscillationTracking();
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0].name, "conv2");
  EXPECT_EQ(report[0].weight_bits, 4);
}

// With a drop probability, a training forward keeps about that share of an
// activation's elements in full precision; forwards without grad mode, or
// while observing, quantize every element, and so does every forward at 0.
TEST(FakeQuantHooksTest, QuantizationDropKeepsElementsInFullPrecisionInTrainingForwardsOnly) {
  torch::manual_seed(17);
  TinyBackbone model;
  FakeQuantOptions options;
  options.bits = {4, 4};
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const auto hooks = AttachAndObserve(model, options, x);
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  // The residual operand is a conv's output: continuous values, none of
  // which lies on the grid by chance (a ReLU's zeros would).
  const std::string site = "block/residual";
  torch::Tensor seen;
  (*hooks)->set_tap([&](const std::string& name, const torch::Tensor& values) {
    if (name == site) seen = values.detach().clone();
  });
  const ActivationQuantizer& quantizer = *(*hooks)->add_operands().at(site);
  (*hooks)->set_observing(false);
  (*hooks)->set_quantization_drop(0.5);
  EXPECT_DOUBLE_EQ((*hooks)->quantization_drop(), 0.5);

  model.forward(x).sum().backward();
  const double trained_share = OffGridShare(quantizer, seen);
  EXPECT_GT(trained_share, 0.4);  // 8,192 elements: the share's sd is 0.006.
  EXPECT_LT(trained_share, 0.6);
  {
    torch::NoGradGuard no_grad;
    model.forward(x);
  }
  EXPECT_EQ(OffGridShare(quantizer, seen), 0.0);
  (*hooks)->set_observing(true);
  model.forward(x);
  EXPECT_EQ(OffGridShare(quantizer, seen), 0.0);
  (*hooks)->set_observing(false);
  (*hooks)->set_quantization_drop(0);
  model.forward(x);
  EXPECT_EQ(OffGridShare(quantizer, seen), 0.0);
}

TEST(FakeQuantHooksTest, ErrorGrowsAsBitsShrinkAndDetachRestoresFullPrecision) {
  torch::manual_seed(1);
  TinyBackbone model;
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({8, 3, 16, 16});
  const torch::Tensor reference = model.forward(x);
  double previous = 1.0;
  for (int bits : {8, 4, 2}) {
    FakeQuantOptions options;
    options.bits = {bits, bits};
    ASSERT_TRUE(FakeQuantHooks::Attach(model, options).ok());
    const double cos = MeanCosine(model.forward(x), reference);
    EXPECT_LT(cos, previous + 1e-6) << bits;
    if (bits == 8) {
      EXPECT_GT(cos, 0.999);
    }
    previous = cos;
  }
  EXPECT_LT(previous, 0.999);
  FakeQuantHooks::Detach(model);
  EXPECT_TRUE(torch::equal(model.forward(x), reference));
}

// The real backbones route every conv/linear and add operand through the
// hooks, and are bit-identical without them.
TEST(FakeQuantHooksTest, DlibResnetIsFullyHooked) {
  torch::manual_seed(2);
  nn::DlibResnet model;
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 3, 150, 150}) * 0.25;
  const torch::Tensor reference = model.forward(x);
  const auto hooks = FakeQuantHooks::Attach(model, {});
  ASSERT_TRUE(hooks.ok());
  EXPECT_EQ((*hooks)->layers().size(), 30u);  // Stem, 14 blocks x 2, fc.
  const torch::Tensor quantized = model.forward(x);
  EXPECT_EQ((*hooks)->add_operands().size(), 28u);  // 14 adds x 2 operands.
  for (const auto* layer : (*hooks)->layers()) {
    EXPECT_EQ(layer->input->num_observed(), 1) << layer->name;
  }
  EXPECT_FALSE(torch::equal(quantized, reference));
  EXPECT_GT(MeanCosine(quantized, reference), 0.99);
  FakeQuantHooks::Detach(model);
  EXPECT_TRUE(torch::equal(model.forward(x), reference));
}

TEST(FakeQuantHooksTest, FaceResIsFullyHooked) {
  torch::manual_seed(3);
  nn::FaceRes model;
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 3, 224, 224}) * 60;
  const torch::Tensor reference = model.forward(x);
  const auto hooks = FakeQuantHooks::Attach(model, {});
  ASSERT_TRUE(hooks.ok());
  EXPECT_EQ((*hooks)->layers().size(), 27u);  // conv1 + 13 x (dw, pw).
  model.forward(x);
  for (const auto* layer : (*hooks)->layers()) {
    EXPECT_EQ(layer->input->num_observed(), 1) << layer->name;
  }
  FakeQuantHooks::Detach(model);
  EXPECT_TRUE(torch::equal(model.forward(x), reference));
}

}  // namespace
}  // namespace qf::quant
