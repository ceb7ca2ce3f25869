// Conversions between 0..255 pixel tensors in the model's channel order and
// the normalized model input ((p - mean[c]) * scale[c], see nn::InputSpec).
// Synthetic generators work in pixel space so that one generator fits every
// model's normalization.
#ifndef QUANTFACE_CORE_SYNTH_PIXEL_NORMALIZATION_H_
#define QUANTFACE_CORE_SYNTH_PIXEL_NORMALIZATION_H_

#include <torch/torch.h>

#include "core/nn/input_spec.h"

namespace qf::synth {

// pixels: N x 3 x H x W float, 0..255.
inline torch::Tensor NormalizePixels(const torch::Tensor& pixels, const nn::InputSpec& spec) {
  const auto options = pixels.options();
  const torch::Tensor mean =
      torch::tensor({spec.mean[0], spec.mean[1], spec.mean[2]}, options).view({1, 3, 1, 1});
  const torch::Tensor scale =
      torch::tensor({spec.scale[0], spec.scale[1], spec.scale[2]}, options).view({1, 3, 1, 1});
  return (pixels - mean) * scale;
}

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_PIXEL_NORMALIZATION_H_
