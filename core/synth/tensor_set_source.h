// TensorSetSource: serves batches from a materialized set of synthetic
// images (the built-in generator's output or a declared-synthetic folder), in
// a fresh random order each epoch, each image mirrored with probability 1/2
// (faces are symmetric enough that a mirror is another valid view).
// Deterministic for a given seed.
#ifndef QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/synth/image_source.h"

namespace qf::synth {

class TensorSetSource : public ImageSource {
 public:
  // images: N x 3 x S x S normalized model input, N >= 1.
  TensorSetSource(torch::Tensor images, nlohmann::json spec, uint64_t seed, bool mirror = true);

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override { return spec_; }
  int64_t size() const { return images_.size(0); }

 private:
  const torch::Tensor images_;
  const nlohmann::json spec_;
  const bool mirror_;
  torch::Generator generator_;
  torch::Tensor order_;
  int64_t cursor_ = 0;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_
