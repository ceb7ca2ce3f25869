// Decoding of TensorFlow.js weight manifests into named LibTorch tensors.
//
// A manifest is a JSON array of weight groups, each
//   {"paths": [shard files...], "weights": [{name, shape, dtype, quantization?}...]}
// as found in a `*-weights_manifest.json` file or in the `weightsManifest` of
// a `model.json`. A group's shards are concatenated and its weights laid out
// back to back in that byte stream, in the order listed. Values are stored
// little-endian as:
//   - dtype float32 / int32 / bool: raw values;
//   - quantization {dtype: uint8|uint16, scale, min}: value = q * scale + min,
//     evaluated in double precision and then stored as float32 (rounded to
//     the nearest integer for int32 weights), as tfjs-core's io_utils does;
//   - quantization {dtype: float16}: IEEE half values of float32 weights.
// Every float weight comes back as a contiguous float32 tensor, int32 weights
// as int32 and bool weights as bool, with the manifest's shape. Shards that
// are missing, shorter or longer than their weights, unknown dtypes and
// duplicate names are errors naming the manifest and the weight.
#ifndef QUANTFACE_CORE_NN_TFJS_WEIGHTS_H_
#define QUANTFACE_CORE_NN_TFJS_WEIGHTS_H_

#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace qf::nn {

using TensorMap = std::map<std::string, torch::Tensor>;

// Decodes every weight of `manifest` (the array of groups). Shard paths are
// relative to `base_dir`; `origin` names the manifest in error messages.
absl::StatusOr<TensorMap> DecodeTfjsWeights(const nlohmann::json& manifest,
                                            const std::string& base_dir, const std::string& origin);

// Reads a `*-weights_manifest.json` file (a bare array of groups, as face-api
// ships) and decodes its weights from the shards next to it.
absl::StatusOr<TensorMap> LoadTfjsWeightsManifest(const std::string& manifest_path);

// Looks `name` up in `weights` and checks it has exactly `shape`; NOT_FOUND or
// INVALID_ARGUMENT with both shapes in the message otherwise.
absl::StatusOr<torch::Tensor> GetTfjsWeight(const TensorMap& weights, const std::string& name,
                                            c10::IntArrayRef shape);

// TF convolution kernel [kh, kw, in, out] -> LibTorch [out, in, kh, kw].
torch::Tensor TfjsConvKernelToTorch(const torch::Tensor& kernel);

// TF depthwise kernel [kh, kw, channels, multiplier] -> LibTorch grouped
// kernel [channels * multiplier, 1, kh, kw] (TF's output channel c*m + j is
// input channel c's j-th filter, which is LibTorch's grouping too).
torch::Tensor TfjsDepthwiseKernelToTorch(const torch::Tensor& kernel);

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_TFJS_WEIGHTS_H_
