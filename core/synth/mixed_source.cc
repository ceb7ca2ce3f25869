#include "core/synth/mixed_source.h"

#include <utility>

namespace qf::synth {

MixedSource::MixedSource(std::vector<std::unique_ptr<ImageSource>> parts)
    : parts_(std::move(parts)) {
  TORCH_CHECK(!parts_.empty(), "a mixed source needs at least one part");
}

torch::Tensor MixedSource::NextBatch(int64_t batch_size) {
  const int64_t k = static_cast<int64_t>(parts_.size());
  std::vector<torch::Tensor> pieces;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t n = batch_size / k + (i < batch_size % k ? 1 : 0);
    if (n > 0) pieces.push_back(parts_[static_cast<size_t>(i)]->NextBatch(n));
  }
  return torch::cat(pieces);
}

nlohmann::json MixedSource::spec() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& part : parts_) parts.push_back(part->spec());
  return {{"kind", "mixed"}, {"parts", parts}};
}

}  // namespace qf::synth
