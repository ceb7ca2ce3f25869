// MixedSource: batches made of several synthetic sources at once, e.g.
// rendered faces together with Gaussian noise.
//
// Why: calibrated on rendered faces alone, activation ranges come out too
// narrow for real faces (PTQ loses accuracy against noise); trained on noise
// alone, the student fits noise. A batch holding both gives ranges at least
// as wide as noise's and a training signal that is partly face-like.
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
