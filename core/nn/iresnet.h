// IResNet: the InsightFace arcface_torch "improved ResNet" (iresnet18/34/50/
// 100), as our own module so that its PyTorch state_dicts load by name and
// QAT can wrap its layers.
//
// Contract: input N x 3 x 112 x 112 float32, RGB, (p - 127.5) / 127.5 (see
// spec()); output N x embedding_dim raw embeddings (the BatchNorm1d
// "features", not L2-normalized). Parameter and buffer names equal those of
// arcface_torch's backbones/iresnet.py, e.g. "conv1.weight",
// "layer3.13.prelu.weight", "layer1.0.downsample.1.running_mean",
// "fc.weight", "features.running_var".
//
// Layout: stem conv3x3 + BN + PReLU at 112x112; four stages of IBasicBlocks
// (BN, conv3x3, BN, PReLU, conv3x3 with the stage's stride 2 in the first
// block, BN, plus a 1x1-conv + BN downsample shortcut there) ending at
// 512 x 7 x 7; then BN, flatten, dropout, Linear(25088 -> embedding_dim) and
// BatchNorm1d whose weight is frozen at training time, as arcface_torch does.
#ifndef QUANTFACE_CORE_NN_IRESNET_H_
#define QUANTFACE_CORE_NN_IRESNET_H_

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::nn {

struct IResNetOptions {
  std::string name = "iresnet18";  // Reported as spec().architecture.
  // IBasicBlocks per stage: iresnet18 (2,2,2,2), 34 (3,4,6,3), 50 (3,4,14,3),
  // 100 (3,13,30,3).
  std::array<int, 4> layers = {2, 2, 2, 2};
  int embedding_dim = 512;
  double dropout = 0.0;  // Before fc; only active in training mode.

  // The arcface_torch configuration of a depth (18, 34, 50 or 100);
  // INVALID_ARGUMENT for any other depth.
  static absl::StatusOr<IResNetOptions> ForDepth(int depth);
};

class IResNet : public Backbone {
 public:
  // Checks the options (positive layer counts and embedding_dim, dropout in
  // [0, 1)) and builds the network in training mode.
  static absl::StatusOr<std::shared_ptr<IResNet>> Create(const IResNetOptions& options);

  // Prefer Create(); the options must be valid as Create() checks them.
  explicit IResNet(const IResNetOptions& options);

  torch::Tensor forward(torch::Tensor input) override;
  const ModelSpec& spec() const override { return spec_; }

 private:
  ModelSpec spec_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::PReLU prelu_{nullptr};
  std::array<torch::nn::Sequential, 4> stages_{nullptr, nullptr, nullptr, nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::BatchNorm1d features_{nullptr};
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_IRESNET_H_
