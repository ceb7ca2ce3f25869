#include "core/quant/activation_quantizer.h"

#include <algorithm>
#include <cmath>

namespace qf::quant {

torch::Tensor ActivationQuantizer::Apply(const torch::Tensor& x) {
  if (learning()) {
    const int64_t qmax = QuantMax(bits_);
    const double features = static_cast<double>(x.numel() / std::max<int64_t>(x.size(0), 1));
    return at::_fake_quantize_learnable_per_tensor_affine(
        x, learned_scale_.clamp_min(kMinScale), zero_point_, 0, qmax,
        1.0 / std::sqrt(features * static_cast<double>(qmax)));
  }
  if (observing_) {
    torch::NoGradGuard no_grad;
    const auto [batch_lo, batch_hi] = EstimateBatchRange(x, bits_, estimator_);
    if (!lo_.defined() || lo_.device() != batch_lo.device()) {
      lo_ = batch_lo;
      hi_ = batch_hi;
    } else {
      lo_ = lo_ * beta_ + batch_lo * (1.0 - beta_);
      hi_ = hi_ * beta_ + batch_hi * (1.0 - beta_);
    }
    ++num_observed_;
  }
  if (!lo_.defined()) return x;
  AffineParams params = Params();
  params.scale = params.scale.to(x.device());
  params.zero_point = params.zero_point.to(x.device());
  return FakeQuantizePerTensor(x, params, bits_);
}

void ActivationQuantizer::SetRange(const torch::Tensor& lo, const torch::Tensor& hi) {
  lo_ = lo.detach().to(torch::kFloat).reshape({});
  hi_ = hi.detach().to(torch::kFloat).reshape({});
  observing_ = false;
  learned_scale_ = torch::Tensor();
  zero_point_ = torch::Tensor();
}

AffineParams ActivationQuantizer::Params() const {
  if (!learning()) return ComputeAffineParams(lo_, hi_, bits_);
  torch::NoGradGuard no_grad;
  return {learned_scale_.detach().clamp_min(kMinScale).reshape({}),
          zero_point_.detach().to(torch::kInt).reshape({})};
}

torch::Tensor ActivationQuantizer::lo() const {
  if (!learning()) return lo_;
  const AffineParams p = Params();
  return -p.zero_point.to(torch::kFloat) * p.scale;
}

torch::Tensor ActivationQuantizer::hi() const {
  if (!learning()) return hi_;
  const AffineParams p = Params();
  return (static_cast<double>(QuantMax(bits_)) - p.zero_point.to(torch::kFloat)) * p.scale;
}

torch::Tensor ActivationQuantizer::StartLearning() {
  TORCH_CHECK(lo_.defined(), "learning an activation range that was never observed");
  observing_ = false;
  if (!learning()) {
    const AffineParams p = ComputeAffineParams(lo_, hi_, bits_);
    learned_scale_ = p.scale.detach().clone().reshape({1}).set_requires_grad(true);
    zero_point_ = p.zero_point.to(torch::kFloat).reshape({1});
  }
  return learned_scale_;
}

}  // namespace qf::quant
