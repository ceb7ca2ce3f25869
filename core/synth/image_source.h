// ImageSource: where quantization gets its training/calibration images.
//
// Contract: every source yields SYNTHETIC images only (no real person); the
// sources that read user data refuse data not declared synthetic. Batches are
// float32 CPU tensors N x 3 x S x S, already normalized as the model's
// InputSpec says, so they go straight into Backbone::forward(). spec() is a
// JSON description of the source (kind, size, seed, ...), recorded with the
// quantized model so a job can be reproduced.
#ifndef QUANTFACE_CORE_SYNTH_IMAGE_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_IMAGE_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>

#include <nlohmann/json.hpp>

namespace qf::synth {

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual torch::Tensor NextBatch(int64_t batch_size) = 0;
  virtual nlohmann::json spec() const = 0;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_IMAGE_SOURCE_H_
