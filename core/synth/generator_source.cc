#include "core/synth/generator_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include <string>
#include <utility>

#include "core/synth/pixel_normalization.h"

namespace qf::synth {

GeneratorSource::GeneratorSource(std::unique_ptr<TorchScriptGenerator> generator,
                                 const nn::InputSpec& input, uint64_t seed,
                                 nlohmann::json description)
    : generator_(std::move(generator)),
      input_(input),
      seed_(seed),
      description_(std::move(description)),
      random_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor GeneratorSource::NextBatch(int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const torch::Tensor latents = at::normal(0.0, 1.0, {batch_size, generator_->info().latent_dim},
                                           random_, torch::TensorOptions(torch::kFloat));
  absl::StatusOr<torch::Tensor> images = generator_->Generate(latents);
  TORCH_CHECK(images.ok(), std::string(images.status().message()));
  torch::Tensor pixels = (images->to(torch::kCPU).clamp(-1.0, 1.0) + 1.0) * 127.5;
  if (pixels.size(2) != input_.size || pixels.size(3) != input_.size) {
    pixels = torch::nn::functional::interpolate(
        pixels, torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{input_.size, input_.size})
                    .mode(torch::kBilinear)
                    .align_corners(false)
                    .antialias(true));
  }
  return NormalizePixels(pixels.clamp(0.0, 255.0), input_);
}

nlohmann::json GeneratorSource::spec() const {
  nlohmann::json spec = {{"kind", "generator"},
                         {"size", input_.size},
                         {"seed", seed_},
                         {"latent_dim", generator_->info().latent_dim},
                         {"generator_size", {generator_->info().height, generator_->info().width}},
                         {"generator_range", {-1, 1}}};
  spec.update(description_);
  return spec;
}

}  // namespace qf::synth
