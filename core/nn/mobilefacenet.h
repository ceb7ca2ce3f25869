// MobileFaceNet: the InsightFace arcface_torch MobileFaceNet ("mbf"), as our
// own module so that its PyTorch state_dicts load by name and QAT can wrap
// its layers.
//
// Contract: input N x 3 x 112 x 112 float32, RGB, (p - 127.5) / 127.5 (see
// spec()); output N x embedding_dim raw embeddings (the BatchNorm1d
// "features", not L2-normalized). Parameter and buffer names equal those of
// arcface_torch's backbones/mobilefacenet.py with the same options, e.g.
// "layers.0.layers.0.weight", "conv_sep.layers.1.running_var",
// "features.layers.2.weight".
//
// Layout: a depthwise-separable body in `layers` (ConvBlock stem, then
// DepthWise downsampling blocks and residual stacks of them), a 1x1 `conv_sep`
// to 512 channels, and the GDC head in `features` (7x7 depthwise linear conv +
// BN, flatten, bias-free Linear, BatchNorm1d).
#ifndef QUANTFACE_CORE_NN_MOBILEFACENET_H_
#define QUANTFACE_CORE_NN_MOBILEFACENET_H_

#include <torch/torch.h>

#include <array>
#include <memory>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::nn {

struct MobileFaceNetOptions {
  int embedding_dim = 512;
  // Residual depth of the four stages (arcface_torch `blocks`): (1, 4, 6, 2)
  // is "mbf", (2, 8, 12, 4) with scale 4 is "mbf_large".
  std::array<int, 4> blocks = {1, 4, 6, 2};
  // Width multiplier: the body has 64 * scale and 128 * scale channels.
  int scale = 2;
};

class MobileFaceNet : public Backbone {
 public:
  // Checks the options (all positive) and builds the network in training
  // mode.
  static absl::StatusOr<std::shared_ptr<MobileFaceNet>> Create(
      const MobileFaceNetOptions& options = {});

  // Prefer Create(); the options must be valid as Create() checks them.
  explicit MobileFaceNet(const MobileFaceNetOptions& options);

  torch::Tensor forward(torch::Tensor input) override;
  const ModelSpec& spec() const override { return spec_; }

 private:
  ModelSpec spec_;
  torch::nn::Sequential layers_{nullptr};
  // Type-erased because their block class is private to the .cc file; each
  // is a module with a single child "layers", as in arcface_torch.
  torch::nn::AnyModule conv_sep_;
  torch::nn::AnyModule features_;
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_MOBILEFACENET_H_
