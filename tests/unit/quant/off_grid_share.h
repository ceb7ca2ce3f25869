// OffGridShare: the share of an activation's values that are not on its
// quantizer's current grid, for tests of what a forward quantized.
#ifndef QUANTFACE_TESTS_UNIT_QUANT_OFF_GRID_SHARE_H_
#define QUANTFACE_TESTS_UNIT_QUANT_OFF_GRID_SHARE_H_

#include <torch/torch.h>

#include "core/quant/activation_quantizer.h"
#include "core/quant/affine.h"

namespace qf::testing {

inline double OffGridShare(const quant::ActivationQuantizer& quantizer,
                           const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  const torch::Tensor on_grid =
      quant::FakeQuantizePerTensor(values, quantizer.Params(), quantizer.bits());
  return (on_grid - values).abs().gt(1e-6).to(torch::kFloat).mean().item<double>();
}

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_UNIT_QUANT_OFF_GRID_SHARE_H_
