#include "core/synth/noise_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/synth/pixel_normalization.h"

namespace qf::synth {

NoiseSource::NoiseSource(const nn::InputSpec& spec, uint64_t seed)
    : input_(spec), seed_(seed), generator_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor NoiseSource::NextBatch(int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const torch::Tensor noise = at::normal(0.0, 1.0, {batch_size, 3, input_.size, input_.size},
                                         generator_, torch::TensorOptions(torch::kFloat));
  return NormalizePixels(torch::clamp(noise * 64.0 + 128.0, 0.0, 255.0), input_);
}

nlohmann::json NoiseSource::spec() const {
  return {{"kind", "noise"},
          {"size", input_.size},
          {"seed", seed_},
          {"pixel_mean", 128},
          {"pixel_std", 64}};
}

}  // namespace qf::synth
