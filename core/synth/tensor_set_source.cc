#include "core/synth/tensor_set_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include <utility>
#include <vector>

namespace qf::synth {

TensorSetSource::TensorSetSource(torch::Tensor images, nlohmann::json spec, uint64_t seed,
                                 bool mirror)
    : images_(std::move(images)),
      spec_(std::move(spec)),
      mirror_(mirror),
      generator_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor TensorSetSource::NextBatch(int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  int64_t needed = batch_size;
  while (needed > 0) {
    if (!order_.defined() || cursor_ >= order_.size(0)) {
      order_ = torch::randperm(images_.size(0), generator_, torch::kLong);
      cursor_ = 0;
    }
    const int64_t take = std::min(needed, order_.size(0) - cursor_);
    parts.push_back(order_.slice(0, cursor_, cursor_ + take));
    cursor_ += take;
    needed -= take;
  }
  torch::Tensor batch = images_.index_select(0, torch::cat(parts));
  if (mirror_) {
    const torch::Tensor flip =
        torch::rand({batch_size}, generator_, torch::TensorOptions(torch::kFloat)) < 0.5;
    batch = torch::where(flip.view({-1, 1, 1, 1}), batch.flip({3}), batch);
  }
  return batch;
}

}  // namespace qf::synth
