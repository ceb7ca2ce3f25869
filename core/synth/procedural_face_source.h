// ProceduralFaceSource: the rendered built-in synthetic data. Every batch is
// new faces drawn from nothing but random numbers: no real person, no
// dataset, no teacher.
//
// Why render faces at all: a quantized student's activation ranges and its
// distillation targets come from the images it sees. Gaussian noise and the
// teacher-inversion images (inversion_generator.h) give activation statistics
// far from those of real faces, which costs most at 4 bits. A cartoon face
// with skin, hair, eyes, brows, nose, mouth, ears, neck, clothes and a
// textured background, placed on the model's own five-point landmark
// template, exercises the same filters a real aligned crop does.
//
// What varies per face (all drawn from the source's seeded generator): skin,
// hair, iris, lip, clothes and background colours; face width and length;
// hair line, volume and presence; brows (shape, tilt, thickness); eye size
// and openness, gaze; mouth width and openness; nose shading; beard and
// glasses (sometimes); landmark positions (a few percent of the inter-ocular
// distance each), yaw (features shift sideways), in-plane rotation, scale
// and shift; lighting gradient, contrast, brightness, colour cast, blur,
// sensor noise, low-frequency textures on skin, hair and background, and
// horizontal mirroring.
//
// Contract: NextBatch() returns N x 3 x S x S float32 CPU tensors normalized
// as the model's InputSpec says; RenderPixels() the same faces as 0..255 RGB
// pixels before normalization. Deterministic for a seed (on one thread count:
// LibTorch's CPU kernels are). Never endless repetition: each call draws new
// faces. The faces are placed on the spec's landmark template, so a spec
// without one (eyes not apart) cannot be rendered: Create() refuses it, and
// there is no other way to build a source.
#ifndef QUANTFACE_CORE_SYNTH_PROCEDURAL_FACE_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_PROCEDURAL_FACE_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/nn/input_spec.h"
#include "core/synth/image_source.h"

namespace qf::synth {

class ProceduralFaceSource : public ImageSource {
 public:
  // InvalidArgumentError unless `input` has a landmark template with the
  // right eye to the right of the left one.
  static absl::StatusOr<std::unique_ptr<ProceduralFaceSource>> Create(const nn::InputSpec& input,
                                                                      uint64_t seed);

  // What spec() of a source created with these arguments returns, without
  // creating one (for keys of sets that start from rendered faces).
  static nlohmann::json SpecFor(const nn::InputSpec& input, uint64_t seed);

  // Only Create() can make the key (as in FakeQuantHooks): it lets Create()
  // use std::make_unique while nobody else builds an unchecked source.
  class PassKey {
    friend class ProceduralFaceSource;
    explicit PassKey() = default;  // explicit: no `{}` aggregate back door.
  };
  ProceduralFaceSource(PassKey, const nn::InputSpec& input, uint64_t seed);

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override { return SpecFor(input_, seed_); }

  // N new faces as RGB pixels, N x 3 x S x S float32 in 0..255.
  torch::Tensor RenderPixels(int64_t n);

 private:
  const nn::InputSpec input_;
  const uint64_t seed_;
  torch::Generator random_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_PROCEDURAL_FACE_SOURCE_H_
