// Int8Backbone: a packed low-bit model run by the integer engine
// (int8_model.h) behind the Backbone interface, so that whatever drives a
// Backbone works on it unchanged: the server's FaceEmbedder (detection,
// alignment, batching, normalization) and the LFW evaluation of a student as
// it is served (integer_lfw_eval.h).
//
// Contract: forward() takes the same normalized float input as the float
// model and returns raw embeddings on the CPU; integer-engine errors are
// raised as c10::Error, which FaceEmbedder turns into a status. Nothing is
// trainable (no parameters are registered).
#ifndef QUANTFACE_CORE_QUANT_INT8_BACKBONE_H_
#define QUANTFACE_CORE_QUANT_INT8_BACKBONE_H_

#include <memory>
#include <string>
#include <utility>

#include "core/nn/backbone.h"
#include "core/quant/int8_model.h"

namespace qf::quant {

class Int8Backbone : public nn::Backbone {
 public:
  Int8Backbone(std::unique_ptr<Int8Model> model, nn::ModelSpec spec)
      : model_(std::move(model)), spec_(std::move(spec)) {}

  torch::Tensor forward(torch::Tensor input) override {
    auto embeddings = model_->Embed(input);
    TORCH_CHECK(embeddings.ok(), std::string(embeddings.status().message()));
    return *std::move(embeddings);
  }
  const nn::ModelSpec& spec() const override { return spec_; }

 private:
  const std::unique_ptr<Int8Model> model_;
  const nn::ModelSpec spec_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_INT8_BACKBONE_H_
