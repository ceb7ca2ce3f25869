// MixedSource: batches made of several synthetic sources at once, e.g.
// rendered faces together with Gaussian noise.
//
// Why: an ablation between the two data sources of docs/BENCHMARKS.md, each
// with its own failure at 4 bits (trained on noise alone the student fits
// noise; calibrated on rendered faces alone the activation grids come out
// coarse). Measured there: on dlib-resnet w4a4 the mix inherits the rendered
// faces' wide ranges and beats neither.
//
// Contract: each NextBatch(n) takes n / k images from each of the k parts
// (the first parts take one more while n % k remains), in part order, so
// the mix is exact and deterministic for deterministic parts. spec() lists
// the parts' specs. At least one part.
#ifndef QUANTFACE_CORE_SYNTH_MIXED_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_MIXED_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/synth/image_source.h"

namespace qf::synth {

class MixedSource : public ImageSource {
 public:
  explicit MixedSource(std::vector<std::unique_ptr<ImageSource>> parts);

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override;

 private:
  const std::vector<std::unique_ptr<ImageSource>> parts_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_MIXED_SOURCE_H_
