#include "core/quant/affine.h"

#include "absl/strings/str_cat.h"

namespace qf::quant {

AffineParams ComputeAffineParams(const torch::Tensor& lo, const torch::Tensor& hi, int bits) {
  torch::NoGradGuard no_grad;
  const double qmax = static_cast<double>(QuantMax(bits));
  const torch::Tensor low = torch::clamp_max(lo.to(torch::kFloat), 0.0);
  const torch::Tensor high = torch::clamp_min(hi.to(torch::kFloat), 0.0);
  AffineParams params;
  params.scale = torch::clamp_min((high - low) / qmax, kMinScale);
  params.zero_point = torch::clamp(torch::round(-low / params.scale), 0.0, qmax).to(torch::kInt);
  return params;
}

absl::StatusOr<WeightScheme> ParseWeightScheme(const std::string& text) {
  if (text == "asymmetric") return WeightScheme::kAsymmetric;
  if (text == "symmetric") return WeightScheme::kSymmetric;
  if (text == "auto") return WeightScheme::kAuto;
  return absl::InvalidArgumentError(
      absl::StrCat("weight scheme '", text, "': expected auto, asymmetric or symmetric"));
}

std::string WeightSchemeName(WeightScheme scheme) {
  switch (scheme) {
    case WeightScheme::kAsymmetric:
      return "asymmetric";
    case WeightScheme::kSymmetric:
      return "symmetric";
    case WeightScheme::kAuto:
      return "auto";
  }
  return "unknown";
}

WeightScheme ResolveWeightScheme(WeightScheme scheme, int bits) {
  if (scheme != WeightScheme::kAuto) return scheme;
  return bits >= 8 ? WeightScheme::kSymmetric : WeightScheme::kAsymmetric;
}

int64_t WeightCodeMax(int bits, WeightScheme scheme) {
  const int64_t top = QuantMax(bits);
  return ResolveWeightScheme(scheme, bits) == WeightScheme::kSymmetric ? top - 1 : top;
}

AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits, WeightScheme scheme) {
  return PerChannelWeightParams(weight, bits, scheme, torch::Tensor());
}

AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits, WeightScheme scheme,
                                    const torch::Tensor& clip) {
  const WeightScheme resolved = ResolveWeightScheme(scheme, bits);
  return ClippedRangeParams(WeightChannelRange(weight, resolved), bits, resolved, clip);
}

ChannelRange WeightChannelRange(const torch::Tensor& weight, WeightScheme scheme) {
  TORCH_CHECK(scheme != WeightScheme::kAuto, "WeightChannelRange: resolve the 'auto' scheme first");
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = weight.detach().flatten(1).to(torch::kFloat);
  if (scheme == WeightScheme::kAsymmetric) {
    return {std::get<0>(flat.min(1)), std::get<0>(flat.max(1))};
  }
  const torch::Tensor max_abs = std::get<0>(flat.abs().max(1));
  return {-max_abs, max_abs};
}

AffineParams ClippedRangeParams(const ChannelRange& range, int bits, WeightScheme scheme,
                                const torch::Tensor& clip) {
  torch::NoGradGuard no_grad;
  scheme = ResolveWeightScheme(scheme, bits);
  // An undefined clip means 1 for every channel.
  const auto scaled = [&clip](const torch::Tensor& bound) {
    return clip.defined() ? bound * clip.to(bound.device()) : bound;
  };
  if (scheme == WeightScheme::kAsymmetric) {
    return ComputeAffineParams(scaled(range.lo), scaled(range.hi), bits);
  }
  const int64_t half = (int64_t{1} << (bits - 1)) - 1;
  AffineParams params;
  params.scale = torch::clamp_min(scaled(range.hi) / static_cast<double>(half), kMinScale);
  params.zero_point = torch::full_like(params.scale, half, torch::kInt);
  return params;
}

torch::Tensor FakeQuantizeWeight(const torch::Tensor& weight, int bits, WeightScheme scheme) {
  const AffineParams params = PerChannelWeightParams(weight, bits, scheme);
  return torch::fake_quantize_per_channel_affine(weight, params.scale, params.zero_point,
                                                 /*axis=*/0, 0, WeightCodeMax(bits, scheme));
}

torch::Tensor FakeQuantizePerTensor(const torch::Tensor& x, const AffineParams& params, int bits) {
  return torch::fake_quantize_per_tensor_affine(x, params.scale, params.zero_point, 0,
                                                QuantMax(bits));
}

}  // namespace qf::quant
