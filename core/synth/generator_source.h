// GeneratorSource: training/calibration images sampled on the fly from a
// TorchScriptGenerator (a registry generator model declared synthetic).
//
// Each batch: latents ~ N(0, 1) from a CPU generator seeded with `seed`
// (so a job is reproducible), images from the generator without autograd,
// mapped from its [-1, 1] range to 0..255 pixels (clamped), resized
// (bilinear) to the teacher's input size and normalized as the teacher's
// InputSpec says. The generator's faces are taken as they come: no face
// detection or alignment (a StyleGAN trained on aligned faces already
// centres them). Never an endless set: every batch is new images.
// A generator that breaks its contract mid-job throws c10::Error, which the
// training and calibration loops report as the job's failure.
#ifndef QUANTFACE_CORE_SYNTH_GENERATOR_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_GENERATOR_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/nn/input_spec.h"
#include "core/synth/image_source.h"
#include "core/synth/torchscript_generator.h"

namespace qf::synth {

class GeneratorSource : public ImageSource {
 public:
  // `description` is merged into spec() (e.g. the generator's registry name
  // and sha256).
  GeneratorSource(std::unique_ptr<TorchScriptGenerator> generator, const nn::InputSpec& input,
                  uint64_t seed, nlohmann::json description = nlohmann::json::object());

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override;

 private:
  const std::unique_ptr<TorchScriptGenerator> generator_;
  const nn::InputSpec input_;
  const uint64_t seed_;
  const nlohmann::json description_;
  torch::Generator random_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_GENERATOR_SOURCE_H_
