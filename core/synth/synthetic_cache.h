// SyntheticCache: generated synthetic sets, stored content-addressed so that
// generation is a one-time cost per teacher and spec.
//
// Contract: the key of a set is the sha256 of its spec's canonical JSON
// (nlohmann's dump() sorts object keys). <dir>/<key>.pt holds the images
// tensor (torch::save) and <dir>/<key>.json the spec. GetOrCreate() returns the
// stored set when both files exist and the stored spec equals `spec`;
// otherwise it calls `generate`, then stores the result via a temporary file
// and rename, so a crash never leaves a half-written entry under the key.
#ifndef QUANTFACE_CORE_SYNTH_SYNTHETIC_CACHE_H_
#define QUANTFACE_CORE_SYNTH_SYNTHETIC_CACHE_H_

#include <torch/torch.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace qf::synth {

class SyntheticCache {
 public:
  explicit SyntheticCache(std::string dir) : dir_(std::move(dir)) {}

  static std::string Key(const nlohmann::json& spec);
  std::string PathFor(const nlohmann::json& spec) const;

  // `hit` (optional) tells whether the set came from the cache.
  absl::StatusOr<torch::Tensor> GetOrCreate(
      const nlohmann::json& spec, const std::function<absl::StatusOr<torch::Tensor>()>& generate,
      bool* hit = nullptr) const;

 private:
  const std::string dir_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_SYNTHETIC_CACHE_H_
