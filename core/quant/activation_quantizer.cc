#include "core/quant/activation_quantizer.h"

namespace qf::quant {

torch::Tensor ActivationQuantizer::Apply(const torch::Tensor& x) {
  if (observing_) {
    torch::NoGradGuard no_grad;
    const torch::Tensor detached = x.detach().to(torch::kFloat);
    const torch::Tensor batch_lo = detached.min();
    const torch::Tensor batch_hi = detached.max();
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
}

}  // namespace qf::quant
