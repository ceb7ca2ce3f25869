// DlibResnet: dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1),
// 150x150 RGB input -> 128-d embedding, ported from face-api's
// FaceRecognitionNet (src/faceRecognitionNet/*.ts in @vladmandic/face-api).
//
// Layers, in face-api's names:
//   conv32_down  7x7/2 conv (no padding) + ReLU, then 3x3/2 max pool
//   conv32_1..3, conv64_1..3, conv128_1..2, conv256_1..2: residual blocks
//     relu(x + conv3x3(relu(conv3x3(x))))
//   conv64_down, conv128_down, conv256_down, conv256_down_out: down blocks
//     relu(pool(x) + conv3x3(relu(conv3x3/2 valid(x)))), where pool is a 2x2/2
//     average pool, zero-padded to the wider channel count when the block
//     widens, and the conv branch is zero-padded by one row/column at the
//     bottom/right when it comes out smaller than the pooled branch
//   global average pool, then fc 256 -> 128 (no bias)
// Each face-api conv is followed by an affine "scale layer"; the importer
// folds it into the conv's weights and bias, so every layer is one
// torch::nn::Conv2d with bias (the form quantization wraps).
//
// forward() takes N x 3 x 150 x 150 float32, (p - (122.782, 117.001, 104.298)) / 255
// in RGB order, and returns N x 128 raw embeddings.
#ifndef QUANTFACE_CORE_NN_DLIB_RESNET_H_
#define QUANTFACE_CORE_NN_DLIB_RESNET_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/nn/layer_hooks.h"
#include "core/nn/tfjs_weights.h"

namespace qf::nn {

// Quantization reaches every conv, the fc and both operands of each residual
// add (sites "<block>/residual" and "<block>/shortcut") through Hookable.
class DlibResnet : public Backbone, public Hookable {
 public:
  static constexpr char kName[] = "dlib-resnet";
  // Weights manifest, relative to the asset dir (see scripts/assets.lock).
  static constexpr char kManifestPath[] =
      "dlib-resnet/face_recognition_model-weights_manifest.json";

  static ModelSpec Spec();

  // Randomly initialized layers; load real weights with LoadTfjsWeights().
  DlibResnet();

  bool has_add_operands() const override { return true; }

  // <asset_dir>/kManifestPath, decoded and loaded, in eval mode on the CPU.
  static absl::StatusOr<std::shared_ptr<DlibResnet>> FromAssets(const std::string& asset_dir);

  // Copies face-api's weights (manifest names, e.g. "conv32_1/conv1/conv/filters")
  // into the layers. Fails, changing nothing, if a weight is missing or
  // mis-shaped; weights the net does not use are an error too.
  absl::Status LoadTfjsWeights(const TensorMap& weights);

  torch::Tensor forward(torch::Tensor input) override;
  const ModelSpec& spec() const override { return spec_; }

  // Width of the residual stream at its widest (the last stage).
  static constexpr int64_t kStreamChannels = 256;

  // Multiplies channel c of the residual stream (the stem's output and
  // every block's output) by scale[c] and divides what reads it by the
  // same factor: the stem's and every conv2's output channel c (weights and
  // bias) are multiplied, every conv1's and the fc's input channel c divided.
  // A channel keeps its index through the down blocks (they append the new
  // ones), so one factor per index holds for the whole net. ReLU, the pools
  // and the down blocks' zero channels commute with positive per-channel
  // factors, so the embedding is unchanged up to float rounding; what
  // changes is how the channels share a per-tensor quantization grid.
  // `scale` is float, kStreamChannels long, every entry finite and > 0;
  // otherwise InvalidArgument and no weight changes.
  absl::Status ScaleResidualStream(const torch::Tensor& scale);

  // The layers that read the residual stream (every block's conv1, then
  // the fc, which reads its spatial mean), by the names quantization gives
  // them; their inputs are the stream at each depth.
  std::vector<std::string> ResidualStreamReaders() const;

 private:
  struct Block {
    std::string name;  // face-api's prefix, e.g. "conv64_down".
    bool down = false;
    torch::nn::Conv2d conv1{nullptr};
    torch::nn::Conv2d conv2{nullptr};
  };

  ModelSpec spec_;
  torch::nn::Conv2d conv32_down_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_DLIB_RESNET_H_
