// TinyBackbone: a few-layer Hookable backbone for fast tests of the
// quantization engine (conv -> relu -> conv, residual add, mean, linear).
#ifndef QUANTFACE_TESTS_UNIT_QUANT_TINY_BACKBONE_H_
#define QUANTFACE_TESTS_UNIT_QUANT_TINY_BACKBONE_H_

#include <torch/torch.h>

#include "core/nn/backbone.h"
#include "core/nn/layer_hooks.h"

namespace qf::testing {

class TinyBackbone : public nn::Backbone, public nn::Hookable {
 public:
  static constexpr int kSize = 16;
  static constexpr int kDim = 16;

  // With a landmark template (the ArcFace one at 16 px) procedural faces
  // can be rendered for it.
  explicit TinyBackbone(bool landmark_template = true) {
    spec_.architecture = "tiny";
    spec_.embedding_dim = kDim;
    spec_.input.size = kSize;
    if (landmark_template) spec_.input.landmark_template = nn::ArcFaceTemplate(kSize);
    spec_.input.mean = {128.f, 128.f, 128.f};
    spec_.input.scale = {1.f / 64.f, 1.f / 64.f, 1.f / 64.f};
    conv1_ =
        register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    conv2_ =
        register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1)));
    fc_ = register_module("fc", torch::nn::Linear(8, kDim));
  }

  torch::Tensor forward(torch::Tensor input) override {
    torch::Tensor x = torch::relu(RunConv(conv1_, input));
    torch::Tensor y = RunConv(conv2_, x);
    x = torch::relu(AddOperand("block/residual", y) + AddOperand("block/shortcut", x));
    return RunLinear(fc_, x.mean({2, 3}));
  }
  const nn::ModelSpec& spec() const override { return spec_; }

 private:
  nn::ModelSpec spec_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// Same layers, not Hookable: quantization must refuse it.
class UnhookableBackbone : public nn::Backbone {
 public:
  UnhookableBackbone() {
    spec_.architecture = "unhookable";
    spec_.embedding_dim = 4;
    fc_ = register_module("fc", torch::nn::Linear(3, 4));
  }
  torch::Tensor forward(torch::Tensor input) override { return fc_(input.mean({2, 3})); }
  const nn::ModelSpec& spec() const override { return spec_; }

 private:
  nn::ModelSpec spec_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_UNIT_QUANT_TINY_BACKBONE_H_
