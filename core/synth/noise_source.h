// NoiseSource: the Gaussian-noise baseline of the ablation. Each batch is
// fresh i.i.d. noise in pixel space, p = clamp(128 + 64 * N(0, 1), 0, 255)
// per pixel and channel, then normalized as the model expects. Pixel space
// (rather than N(0, 1) in input space) gives every model noise of the same
// contrast as real images, whatever its normalization. Deterministic for a
// given seed.
#ifndef QUANTFACE_CORE_SYNTH_NOISE_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_NOISE_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/nn/input_spec.h"
#include "core/synth/image_source.h"

namespace qf::synth {

class NoiseSource : public ImageSource {
 public:
  NoiseSource(const nn::InputSpec& spec, uint64_t seed);

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override;

 private:
  const nn::InputSpec input_;
  const uint64_t seed_;
  torch::Generator generator_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_NOISE_SOURCE_H_
