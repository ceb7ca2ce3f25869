#include "core/quant/affine.h"

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

AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits) {
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = weight.detach().flatten(1);
  return ComputeAffineParams(std::get<0>(flat.min(1)), std::get<0>(flat.max(1)), bits);
}

torch::Tensor FakeQuantizeWeight(const torch::Tensor& weight, int bits) {
  const AffineParams params = PerChannelWeightParams(weight, bits);
  return torch::fake_quantize_per_channel_affine(weight, params.scale, params.zero_point,
                                                 /*axis=*/0, 0, QuantMax(bits));
}

torch::Tensor FakeQuantizePerTensor(const torch::Tensor& x, const AffineParams& params, int bits) {
  return torch::fake_quantize_per_tensor_affine(x, params.scale, params.zero_point, 0,
                                                QuantMax(bits));
}

}  // namespace qf::quant
