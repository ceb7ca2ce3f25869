// FeatureRecorder: LayerHooks that run a backbone in full precision, exactly
// as with no hooks, while keeping, by site, every activation that a
// FakeQuantHooks student would quantize: each conv/linear input (under the
// layer's name) and each residual-add operand (under its add site).
//
// Why: feature-level distillation (QatOptions::feature_loss_weight) compares
// the teacher's block features with the student's at the same sites. The
// student's come from its FakeQuantHooks tap, which sees the same sites; the
// teacher, which has no quantization hooks, gets this recorder for the run.
//
// Contract: Conv2d()/Linear() call the layer's own forward, so outputs are
// bit-identical to an unhooked forward. Each hook records its input (not a
// copy: callers run the teacher under NoGradGuard) under the site, replacing
// what an earlier forward left there; features() lists them. Clear() empties
// the record. Not thread-safe.
#ifndef QUANTFACE_CORE_QUANT_FEATURE_RECORDER_H_
#define QUANTFACE_CORE_QUANT_FEATURE_RECORDER_H_

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>

#include "core/nn/layer_hooks.h"

namespace qf::quant {

class FeatureRecorder : public nn::LayerHooks {
 public:
  // Layer names come from the backbone, as FakeQuantHooks takes them.
  explicit FeatureRecorder(std::map<const torch::nn::Module*, std::string> layer_names)
      : layer_names_(std::move(layer_names)) {}

  torch::Tensor Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) override {
    Record(&conv, input);
    return conv.forward(input);
  }
  torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) override {
    Record(&linear, input);
    return linear.forward(input);
  }
  torch::Tensor AddOperand(const std::string& site, const torch::Tensor& x) override {
    features_[site] = x;
    return x;
  }

  const std::map<std::string, torch::Tensor>& features() const { return features_; }
  void Clear() { features_.clear(); }

 private:
  void Record(const torch::nn::Module* layer, const torch::Tensor& input) {
    const auto it = layer_names_.find(layer);
    if (it != layer_names_.end()) features_[it->second] = input;
  }

  const std::map<const torch::nn::Module*, std::string> layer_names_;
  std::map<std::string, torch::Tensor> features_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_FEATURE_RECORDER_H_
