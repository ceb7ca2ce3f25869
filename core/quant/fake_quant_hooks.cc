#include "core/quant/fake_quant_hooks.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/quant/affine.h"
#include "core/quant/layer_name_check.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

bool AddOperandKeptAt8Bits(const FakeQuantOptions& options, const std::string& site) {
  return options.keep_add_operands_8bit ||
         (options.keep_residual_operands_8bit && nn::IsResidualOperandSite(site));
}

namespace F = torch::nn::functional;

nn::Hookable* AsHookable(nn::Backbone& backbone) { return dynamic_cast<nn::Hookable*>(&backbone); }

bool IsQuantizedLayer(const torch::nn::Module* module) {
  return dynamic_cast<const torch::nn::Conv2dImpl*>(module) != nullptr ||
         dynamic_cast<const torch::nn::LinearImpl*>(module) != nullptr;
}

bool IsDepthwiseConv(const torch::nn::Module* module) {
  const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(module);
  if (conv == nullptr) return false;
  const int64_t groups = conv->options.groups();
  return groups > 1 && groups == conv->options.in_channels();
}

bool ValidBits(int bits) { return bits >= kMinBits && bits <= kMaxBits; }

// Every layer a keep_* option holds at 8 bits takes the symmetric weight
// grid: 8-bit asymmetric weights do not fit oneDNN's int8 kernels and would
// send the whole model to the much slower QNNPACK (FakeQuantOptions).
void KeepWeightsAt8Bits(FakeQuantHooks::Layer& layer) {
  layer.weight_bits = 8;
  layer.weight_scheme = WeightScheme::kSymmetric;
}

// keep_first_last_8bit's and keep_8bit_layers' treatment: 8-bit weights and
// an 8-bit input with min/max ranges (256 levels leave little to clip).
void KeepLayerAt8Bits(FakeQuantHooks::Layer& layer, double ema_beta) {
  KeepWeightsAt8Bits(layer);
  layer.input = std::make_unique<ActivationQuantizer>(8, ema_beta);
}

// A learned weight grid's per-channel scale, differentiable in its log.
torch::Tensor LearnedWeightScale(const FakeQuantHooks::Layer& layer) {
  return layer.learned_weight_log_scale.exp().clamp_min(kMinScale);
}

}  // namespace

bool HasDepthwiseConv(const torch::nn::Module& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (IsDepthwiseConv(module.get())) return true;
  }
  return false;
}

bool HasAddOperands(const nn::Backbone& model) {
  const auto* hookable = dynamic_cast<const nn::Hookable*>(&model);
  return hookable != nullptr && hookable->has_add_operands();
}

std::vector<std::string> OrderedQuantizedLayerNames(const torch::nn::Module& model) {
  std::vector<std::string> names;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (IsQuantizedLayer(item.value().get())) names.push_back(item.key());
  }
  return names;
}

absl::Status CheckKeep8BitLayers(const nn::Backbone& model, const std::vector<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  return CheckLayerNames("keep_8bit_layers", model.spec().architecture,
                         OrderedQuantizedLayerNames(model), names);
}

absl::StatusOr<std::shared_ptr<FakeQuantHooks>> FakeQuantHooks::Attach(
    nn::Backbone& backbone, const FakeQuantOptions& options) {
  if (!ValidBits(options.bits.weight) || !ValidBits(options.bits.activation)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bit widths out of range: ", QuantBitsName(options.bits)));
  }
  nn::Hookable* hookable = AsHookable(backbone);
  if (hookable == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("model '", backbone.spec().architecture,
                                                      "' does not support quantization hooks"));
  }
  if (options.keep_depthwise_8bit && !HasDepthwiseConv(backbone)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keep_depthwise_8bit: model '", backbone.spec().architecture, "' has no depthwise conv"));
  }
  if ((options.keep_add_operands_8bit || options.keep_residual_operands_8bit) &&
      !HasAddOperands(backbone)) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.keep_add_operands_8bit ? "keep_add_operands_8bit" : "keep_residual_operands_8bit",
        ": model '", backbone.spec().architecture, "' has no residual adds"));
  }
  QF_RETURN_IF_ERROR(CheckKeep8BitLayers(backbone, options.keep_8bit_layers));
  auto hooks = std::make_shared<FakeQuantHooks>(PassKey(), options);
  for (const auto& item : backbone.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const torch::nn::Module* module = item.value().get();
    if (!IsQuantizedLayer(module)) continue;
    auto layer = std::make_unique<Layer>();
    layer->name = item.key();
    layer->depthwise = IsDepthwiseConv(module);
    layer->weight_bits = options.bits.weight;
    layer->weight_scheme = ResolveWeightScheme(options.weight_scheme, layer->weight_bits);
    if (options.keep_depthwise_8bit && IsDepthwiseConv(module)) KeepWeightsAt8Bits(*layer);
    const RangeEstimator estimator =
        hooks->ordered_.empty() ? RangeEstimator::kMinMax : options.activation_ranges;
    layer->input =
        std::make_unique<ActivationQuantizer>(options.bits.activation, options.ema_beta, estimator);
    hooks->by_module_[module] = layer.get();
    hooks->ordered_.push_back(std::move(layer));
  }
  if (hooks->ordered_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", backbone.spec().architecture, "' has no conv/linear layer"));
  }
  if (options.keep_first_last_8bit) {
    for (Layer* layer : {hooks->ordered_.front().get(), hooks->ordered_.back().get()}) {
      KeepLayerAt8Bits(*layer, options.ema_beta);
    }
  }
  for (const std::string& name : options.keep_8bit_layers) {
    KeepLayerAt8Bits(*hooks->mutable_layer(name), options.ema_beta);
  }
  hookable->set_layer_hooks(hooks);
  return hooks;
}

void FakeQuantHooks::Detach(nn::Backbone& backbone) {
  if (nn::Hookable* hookable = AsHookable(backbone)) hookable->set_layer_hooks(nullptr);
}

FakeQuantHooks::Layer& FakeQuantHooks::Find(const torch::nn::Module* module, const char* kind) {
  const auto it = by_module_.find(module);
  // A layer missing here is a programming error in a backbone (a layer created
  // after Attach()); c10::Error is what forward() callers already handle.
  TORCH_CHECK(it != by_module_.end(), "fake quantization: unknown ", kind, " layer");
  return *it->second;
}

AffineParams FakeQuantHooks::WeightParams(const Layer& layer, const torch::Tensor& weight) const {
  if (layer.frozen_weight_params.has_value()) {
    const AffineParams& p = *layer.frozen_weight_params;
    return {p.scale.to(weight.device()), p.zero_point.to(weight.device())};
  }
  if (layer.learned_weight_log_scale.defined()) {
    torch::NoGradGuard no_grad;
    return {LearnedWeightScale(layer).detach(), layer.learned_weight_zero_point.to(torch::kInt)};
  }
  // Min/max ranges need no factors (an undefined clip is 1 everywhere).
  const torch::Tensor clip =
      layer.weight_clip.defined() || options_.weight_ranges == RangeEstimator::kMinMax
          ? layer.weight_clip
          : EstimateWeightClip(weight, layer.weight_bits, layer.weight_scheme,
                               options_.weight_ranges);
  return PerChannelWeightParams(weight, layer.weight_bits, layer.weight_scheme, clip);
}

torch::Tensor FakeQuantHooks::QuantizeWeight(Layer& layer, const torch::Tensor& weight) {
  if (layer.rounding) return layer.rounding->Quantized(torch::GradMode::is_enabled());
  if (layer.learned_weight_log_scale.defined()) {
    const int64_t qmax = WeightCodeMax(layer.weight_bits, layer.weight_scheme);
    const double per_channel = static_cast<double>(weight.numel() / weight.size(0));
    const torch::Tensor quantized = at::_fake_quantize_learnable_per_channel_affine(
        weight, LearnedWeightScale(layer), layer.learned_weight_zero_point,
        /*axis=*/0, 0, qmax, 1.0 / std::sqrt(per_channel * static_cast<double>(qmax)));
    return layer.oscillations
               ? ApplyOscillationTracking(layer, weight, WeightParams(layer, weight), quantized)
               : quantized;
  }
  if (observing_ && options_.weight_ranges != RangeEstimator::kMinMax &&
      !layer.frozen_weight_params.has_value()) {
    layer.weight_clip =
        EstimateWeightClip(weight, layer.weight_bits, layer.weight_scheme, options_.weight_ranges);
  }
  const AffineParams p = WeightParams(layer, weight);
  const torch::Tensor quantized = torch::fake_quantize_per_channel_affine(
      weight, p.scale, p.zero_point, /*axis=*/0, 0,
      WeightCodeMax(layer.weight_bits, layer.weight_scheme));
  return layer.oscillations ? ApplyOscillationTracking(layer, weight, p, quantized) : quantized;
}

torch::Tensor FakeQuantHooks::ApplyOscillationTracking(Layer& layer, const torch::Tensor& weight,
                                                       const AffineParams& p,
                                                       const torch::Tensor& quantized) {
  OscillationTracker& tracker = *layer.oscillations;
  const bool training = !observing_ && torch::GradMode::is_enabled() && weight.requires_grad();
  if (!training && !tracker.has_frozen()) return quantized;
  std::vector<int64_t> per_channel(static_cast<size_t>(weight.dim()), 1);
  per_channel[0] = -1;
  const torch::Tensor scale = p.scale.to(weight.dtype()).view(per_channel);
  const torch::Tensor zero_point = p.zero_point.to(weight.dtype()).view(per_channel);
  if (training) {
    torch::NoGradGuard no_grad;
    torch::Tensor integers =
        (weight.detach() / scale)
            .round()
            .add(zero_point)
            .clamp(0, static_cast<double>(WeightCodeMax(layer.weight_bits, layer.weight_scheme)));
    if (tracker.has_frozen()) {
      integers = torch::where(tracker.frozen(), tracker.frozen_integers(), integers);
    }
    tracker.Observe(integers, freeze_threshold_);
  }
  if (!tracker.has_frozen()) return quantized;
  // No gradient reaches a frozen weight: where() routes it to `quantized`'s
  // other entries only.
  return torch::where(tracker.frozen(), (tracker.frozen_integers() - zero_point) * scale,
                      quantized);
}

torch::Tensor FakeQuantHooks::WeightOf(const Layer& layer) const {
  for (const auto& [module, candidate] : by_module_) {
    if (candidate != &layer) continue;
    // named_parameters() returns by value: the dict must outlive find()'s
    // pointer into it.
    const auto parameters = module->named_parameters(/*recurse=*/false);
    const torch::Tensor* weight = parameters.find("weight");
    TORCH_CHECK(weight != nullptr, "fake quantization: layer ", layer.name, " has no weight");
    return *weight;
  }
  TORCH_CHECK(false, "fake quantization: layer ", layer.name, " has no module");
}

void FakeQuantHooks::TrackOscillations(double momentum) {
  for (auto& layer : ordered_) {
    if (layer->oscillations || layer->weight_bits >= 8 || layer->frozen_weight_params.has_value()) {
      continue;
    }
    layer->oscillations = std::make_unique<OscillationTracker>(momentum);
  }
}

std::vector<FakeQuantHooks::LayerOscillations> FakeQuantHooks::FinishOscillationTracking() {
  std::vector<LayerOscillations> report;
  for (auto& layer : ordered_) {
    if (!layer->oscillations) continue;
    const OscillationTracker& tracker = *layer->oscillations;
    report.push_back({layer->name, layer->depthwise, layer->weight_bits, tracker.Counts()});
    if (tracker.has_frozen()) {
      torch::NoGradGuard no_grad;
      // The forward already substitutes the frozen values; computing them
      // here through it keeps one formula.
      const torch::Tensor latent = WeightOf(*layer).detach();
      latent.copy_(ApplyOscillationTracking(*layer, latent, WeightParams(*layer, latent), latent));
    }
    layer->oscillations.reset();
  }
  return report;
}

std::vector<torch::Tensor> FakeQuantHooks::StartLearningRounding(bool depthwise_only) {
  set_observing(false);
  std::vector<torch::Tensor> logits;
  for (auto& layer : ordered_) {
    if (layer->weight_bits >= 8 || layer->frozen_weight_params.has_value() ||
        layer->learned_weight_log_scale.defined() || (depthwise_only && !layer->depthwise)) {
      continue;
    }
    if (!layer->rounding) {
      const torch::Tensor weight = WeightOf(*layer);
      layer->rounding = std::make_unique<LearnedRounding>(
          weight, WeightParams(*layer, weight),
          WeightCodeMax(layer->weight_bits, layer->weight_scheme));
      // Rounding is now a choice, not where the latent weight lies.
      layer->oscillations.reset();
    }
    logits.push_back(layer->rounding->logits());
  }
  return logits;
}

torch::Tensor FakeQuantHooks::RoundingRegularizer(double beta) const {
  torch::Tensor sum;
  for (const auto& layer : ordered_) {
    if (!layer->rounding) continue;
    const torch::Tensor term = layer->rounding->Regularizer(beta);
    sum = sum.defined() ? sum + term : term;
  }
  return sum.defined() ? sum : torch::zeros({});
}

std::vector<FakeQuantHooks::LayerRounding> FakeQuantHooks::FinishLearningRounding() {
  std::vector<LayerRounding> report;
  for (auto& layer : ordered_) {
    if (!layer->rounding) continue;
    const LearnedRounding& rounding = *layer->rounding;
    report.push_back({layer->name, layer->depthwise, layer->weight_bits, rounding.Counts()});
    {
      torch::NoGradGuard no_grad;
      WeightOf(*layer).detach().copy_(rounding.Quantized(/*soft=*/false));
    }
    // The decided values lie on this grid; the grid computed afresh from
    // them could differ (a channel's extremes may have moved to a level).
    layer->frozen_weight_params = rounding.grid();
    layer->rounding.reset();
  }
  return report;
}

torch::Tensor FakeQuantHooks::Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) {
  Layer& layer = Find(&conv, "conv");
  const torch::Tensor x = QuantizeActivation(*layer.input, input);
  if (tap_) tap_(layer.name, x);
  const torch::Tensor w = QuantizeWeight(layer, conv.weight);
  const auto& o = conv.options;
  return F::conv2d(x, w,
                   F::Conv2dFuncOptions()
                       .bias(conv.bias)
                       .stride(o.stride())
                       .padding(o.padding())
                       .dilation(o.dilation())
                       .groups(o.groups()));
}

torch::Tensor FakeQuantHooks::Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) {
  Layer& layer = Find(&linear, "linear");
  const torch::Tensor x = QuantizeActivation(*layer.input, input);
  if (tap_) tap_(layer.name, x);
  return F::linear(x, QuantizeWeight(layer, linear.weight), linear.bias);
}

torch::Tensor FakeQuantHooks::AddOperand(const std::string& site, const torch::Tensor& x) {
  const torch::Tensor quantized = QuantizeActivation(add_operand(site), x);
  if (tap_) tap_(site, quantized);
  return quantized;
}

torch::Tensor FakeQuantHooks::QuantizeActivation(ActivationQuantizer& quantizer,
                                                 const torch::Tensor& x) const {
  const torch::Tensor quantized = quantizer.Apply(x);
  if (drop_probability_ <= 0 || observing_ || !torch::GradMode::is_enabled()) return quantized;
  // The kept elements' gradient flows to x directly, the others' through
  // the quantizer's straight-through estimator.
  return torch::where(torch::rand_like(x) < drop_probability_, x, quantized);
}

ActivationQuantizer& FakeQuantHooks::add_operand(const std::string& site) {
  auto it = add_operands_.find(site);
  if (it == add_operands_.end()) {
    // Operands kept at 8 bits take min/max ranges, like kept layers' inputs.
    const bool kept = AddOperandKeptAt8Bits(options_, site);
    auto quantizer = std::make_unique<ActivationQuantizer>(
        kept ? 8 : options_.bits.activation, options_.ema_beta,
        kept ? RangeEstimator::kMinMax : options_.activation_ranges);
    quantizer->set_observing(observing_);
    it = add_operands_.emplace(site, std::move(quantizer)).first;
  }
  return *it->second;
}

FakeQuantHooks::Layer* FakeQuantHooks::mutable_layer(const std::string& name) {
  for (auto& layer : ordered_) {
    if (layer->name == name) return layer.get();
  }
  return nullptr;
}

void FakeQuantHooks::set_observing(bool observing) {
  observing_ = observing;
  for (auto& layer : ordered_) layer->input->set_observing(observing);
  for (auto& [site, quantizer] : add_operands_) quantizer->set_observing(observing);
}

std::vector<torch::Tensor> FakeQuantHooks::StartLearningRanges() {
  set_observing(false);
  std::vector<torch::Tensor> scales;
  for (auto& layer : ordered_) {
    if (layer->input->initialized()) scales.push_back(layer->input->StartLearning());
  }
  for (auto& [site, quantizer] : add_operands_) {
    if (quantizer->initialized()) scales.push_back(quantizer->StartLearning());
  }
  return scales;
}

std::vector<torch::Tensor> FakeQuantHooks::StartLearningWeightRanges() {
  set_observing(false);
  std::vector<torch::Tensor> scales;  // In layer order, for reproducible optimizer state.
  for (const auto& layer : ordered_) {
    if (layer->frozen_weight_params.has_value() || layer->rounding) continue;
    if (!layer->learned_weight_log_scale.defined()) {
      const AffineParams p = WeightParams(*layer, WeightOf(*layer));
      layer->learned_weight_log_scale = p.scale.detach().log().set_requires_grad(true);
      layer->learned_weight_zero_point = p.zero_point.to(torch::kFloat);
    }
    scales.push_back(layer->learned_weight_log_scale);
  }
  return scales;
}

std::vector<const FakeQuantHooks::Layer*> FakeQuantHooks::layers() const {
  std::vector<const Layer*> out;
  for (const auto& layer : ordered_) out.push_back(layer.get());
  return out;
}

std::map<const torch::nn::Module*, std::string> QuantizedLayerNames(
    const torch::nn::Module& model) {
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (IsQuantizedLayer(item.value().get())) names[item.value().get()] = item.key();
  }
  return names;
}

}  // namespace qf::quant
